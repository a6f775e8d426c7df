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
    let arguments = Arguments::from_args();
    let skip = match &requirement {
        Requirement::Met => None,
        Requirement::MissingService(reason) if std::env::var_os("CI").is_some() => {
            eprintln!("{suite}: cannot run under CI: {reason}");
            return ExitCode::FAILURE;
        }
        Requirement::MissingService(reason) | Requirement::OtherMode(reason) => Some(reason),
    };
    if let Some(reason) = skip {
        println!(
            "\nSKIPPED: the {} tests of {suite} are reported as ignored: {reason}",
            tests.len()
        );
    }
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            Trial::test(name, move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime: {e}"))?;
                runtime.block_on(test());
                Ok(())
            })
            .with_ignored_flag(skip.is_some())
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit_code()
}
