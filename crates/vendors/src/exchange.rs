//! How one chunk of targets goes to a vendor, as data: the requests to send and what to do with
//! each answer. A vendor builds it once ([`crate::driver::VendorApi::exchange`]); the driver
//! walks it over the wire ([`Step::run`]) and previews walk it without sending
//! ([`Step::preview`]), so the requests that traces and golden files show are the ones sent.

use crate::http::{Http, VendorRequest, VendorResponse};
use herald_core::{AdapterError, Outcome, Target};

/// Reads the answer that settles a chunk: one outcome per target, in order.
type Settle<'a> = Box<dyn FnOnce(&VendorResponse) -> Vec<Outcome> + Send + 'a>;
/// Reads the value the next request needs out of an answer, or settles the chunk without it.
type Read<'a> = Box<dyn FnOnce(&VendorResponse) -> Result<String, Vec<Outcome>> + Send + 'a>;
/// Builds the next step from the value read.
type Next<'a> = Box<dyn FnOnce(&str) -> Step<'a> + Send + 'a>;

/// What is left to do for one chunk.
pub(crate) enum Step<'a> {
    /// Settled without a request (e.g. an unreadable Web Push subscription).
    Done(Vec<Outcome>),
    /// Send the request; its answer settles the chunk.
    Last {
        request: VendorRequest,
        settle: Settle<'a>,
    },
    /// Send the request; its answer carries a value (vivo's `taskId`) that the next request
    /// needs. A preview has no answer and shows `placeholder` in its place.
    Then {
        request: VendorRequest,
        read: Read<'a>,
        placeholder: &'static str,
        next: Next<'a>,
    },
}

impl<'a> Step<'a> {
    /// One request whose answer settles the chunk.
    pub(crate) fn last(
        request: VendorRequest,
        settle: impl FnOnce(&VendorResponse) -> Vec<Outcome> + Send + 'a,
    ) -> Self {
        Step::Last {
            request,
            settle: Box::new(settle),
        }
    }

    /// A request whose answer yields the value the `next` step is built from.
    pub(crate) fn then(
        request: VendorRequest,
        read: impl FnOnce(&VendorResponse) -> Result<String, Vec<Outcome>> + Send + 'a,
        placeholder: &'static str,
        next: impl FnOnce(&str) -> Step<'a> + Send + 'a,
    ) -> Self {
        Step::Then {
            request,
            read: Box::new(read),
            placeholder,
            next: Box::new(next),
        }
    }

    /// One request for the whole chunk, built from its tokens; `classify` reads the answer
    /// into one outcome per token.
    pub(crate) fn batch(
        targets: &'a [Target],
        build: impl FnOnce(&[&str]) -> VendorRequest,
        classify: fn(&VendorResponse, &[&str]) -> Vec<Outcome>,
    ) -> Self {
        let tokens: Vec<&'a str> = targets.iter().map(|t| t.token.as_str()).collect();
        let request = build(&tokens);
        Step::last(request, move |answer| classify(answer, &tokens))
    }

    /// One request for the chunk's only target (see [`Step::of_one`]); `classify` reads the
    /// answer into its outcome.
    pub(crate) fn single(
        targets: &'a [Target],
        build: impl FnOnce(&'a Target) -> VendorRequest,
        classify: fn(&VendorResponse) -> Outcome,
    ) -> Self {
        Step::of_one(targets, |target| {
            Step::last(build(target), move |answer| vec![classify(answer)])
        })
    }

    /// For vendors that take one target per request (their batch size is 1, so the driver
    /// never gives them more): the step of that target.
    pub(crate) fn of_one(targets: &'a [Target], step: impl FnOnce(&'a Target) -> Step<'a>) -> Self {
        match targets {
            [target] => step(target),
            _ => Step::Done(vec![
                Outcome::rejected(
                    "batch_size",
                    "this vendor takes one target per request"
                );
                targets.len()
            ]),
        }
    }

    /// Sends the requests in order and returns one outcome per target.
    pub(crate) async fn run(self, http: &Http) -> Result<Vec<Outcome>, AdapterError> {
        let mut step = self;
        loop {
            step = match step {
                Step::Done(outcomes) => return Ok(outcomes),
                Step::Last { request, settle } => return Ok(settle(&http.send(&request).await?)),
                Step::Then {
                    request, read, next, ..
                } => match read(&http.send(&request).await?) {
                    Ok(value) => next(&value),
                    Err(outcomes) => return Ok(outcomes),
                },
            };
        }
    }

    /// The requests in the order they would be sent, or the outcome of a chunk settled without
    /// any (its first target's).
    pub(crate) fn preview(self) -> Result<Vec<VendorRequest>, Outcome> {
        let mut requests = Vec::new();
        let mut step = self;
        loop {
            step = match step {
                Step::Done(outcomes) => {
                    return match outcomes.into_iter().next() {
                        Some(outcome) if requests.is_empty() => Err(outcome),
                        _ => Ok(requests),
                    };
                }
                Step::Last { request, .. } => {
                    requests.push(request);
                    return Ok(requests);
                }
                Step::Then {
                    request,
                    placeholder,
                    next,
                    ..
                } => {
                    requests.push(request);
                    next(placeholder)
                }
            };
        }
    }
}
