//! A test harness (libtest-mimic) for suites of async tests that may have to be skipped:
//! skipped tests show up as `ignored` with the reason printed above them, never as `ok`.

use libtest_mimic::{Arguments, Trial};
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

/// One async test: a name and the function that makes its future.
pub type AsyncTest = (&'static str, fn() -> Pin<Box<dyn Future<Output = ()>>>);

/// The async tests of a suite, by function name: `async_tests![first, second]`.
#[macro_export]
macro_rules! async_tests {
    ($($test:ident),* $(,)?) => {
        vec![$((
            stringify!($test),
            (|| Box::pin($test()) as ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ()>>>)
                as fn() -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ()>>>,
        )),*]
    };
}

/// What a suite needs before its tests can run.
#[derive(Debug)]
pub enum Requirement {
    /// Nothing: the tests run.
    Met,
    /// A service is missing (the reason says which and how to provide it). Ignored on a
    /// developer's machine; a failure under CI, whose script provides every service.
    MissingService(String),
    /// The suite belongs to another test mode (e.g. `HERALD_TEST_BACKEND=cluster`): ignored,
    /// also under CI, which runs that mode separately.
    OtherMode(String),
}

impl Requirement {
    /// `Met`, or `MissingService` with the reason.
    pub fn service(found: Result<(), String>) -> Self {
        match found {
            Ok(()) => Requirement::Met,
            Err(reason) => Requirement::MissingService(reason),
        }
    }
}

/// Runs the suite: each test on a multi-threaded runtime of its own (two workers, as on the
/// machines Herald is tested on).
pub fn run(suite: &str, requirement: Requirement, tests: Vec<AsyncTest>) -> ExitCode {
    Suite::new(suite).tests("", requirement, tests).run()
}

/// A suite made of groups of tests, each group with its own requirement.
#[derive(Debug)]
pub struct Suite {
    name: String,
    trials: Vec<Trial>,
    /// A requirement CI must meet and this machine does not: the suite fails.
    unmet_under_ci: Option<String>,
}

impl Suite {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            trials: Vec::new(),
            unmet_under_ci: None,
        }
    }

    /// Adds tests named `<prefix><function>`, run when `requirement` is met and reported as
    /// ignored (with the reason printed) when it is not.
    pub fn tests(mut self, prefix: &str, requirement: Requirement, tests: Vec<AsyncTest>) -> Self {
        let skip = match requirement {
            Requirement::Met => None,
            Requirement::MissingService(reason) if std::env::var_os("CI").is_some() => {
                self.unmet_under_ci = Some(reason);
                return self;
            }
            Requirement::MissingService(reason) | Requirement::OtherMode(reason) => Some(reason),
        };
        if let Some(reason) = &skip {
            println!(
                "\nSKIPPED: {} tests of {} ({prefix}*) are reported as ignored: {reason}",
                tests.len(),
                self.name
            );
        }
        self.add(prefix, tests, skip.is_some());
        self
    }

    /// Adds tests that run only when asked for (`--ignored`), e.g. long scale checks.
    pub fn on_request(mut self, tests: Vec<AsyncTest>) -> Self {
        self.add("", tests, true);
        self
    }

    fn add(&mut self, prefix: &str, tests: Vec<AsyncTest>, ignored: bool) {
        self.trials.extend(tests.into_iter().map(|(name, test)| {
            Trial::test(format!("{prefix}{name}"), move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime: {e}"))?;
                runtime.block_on(test());
                Ok(())
            })
            .with_ignored_flag(ignored)
        }));
    }

    /// Runs the suite with the command line's arguments (filters, `--ignored`…).
    pub fn run(self) -> ExitCode {
        if let Some(reason) = self.unmet_under_ci {
            eprintln!("{}: cannot run under CI: {reason}", self.name);
            return ExitCode::FAILURE;
        }
        libtest_mimic::run(&Arguments::from_args(), self.trials).exit_code()
    }
}
