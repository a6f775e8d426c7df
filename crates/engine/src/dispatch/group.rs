//! Grouping and chunking: claimed jobs are grouped by what one adapter call can carry (one
//! message, one certificate, one sound), and each group is cut into units that are sent and
//! recorded together. Pure, so the sizes are tested alone.

use herald_core::delivery::PushJob;
use std::collections::HashMap;

/// Most jobs sent and recorded as one unit (one vendor batch at most).
pub(crate) const COMMIT_CHUNK: usize = 1000;
/// Jobs recorded as one unit for vendors without a batch API.
pub(crate) const SINGLE_TARGET_CHUNK: usize = 64;

/// Units that fit in the window at once: a unit (one vendor request of a batch vendor, or a
/// few single-target sends, recorded together) is at most this fraction of the window, so
/// even a small window keeps a request at the vendor, an outcome write and the next build
/// going side by side instead of one after the other (measured: a window of 64 sent 64 %
/// more pushes per second with units of 16 than with one unit of 64).
pub(crate) const PIPELINE_DEPTH: usize = 4;

/// A message of an app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    /// App.
    pub app_id: String,
    /// Message id.
    pub message_id: String,
}

impl MessageKey {
    /// The message of `app` with id `id`.
    pub fn new(app: &str, id: &str) -> Self {
        Self {
            app_id: app.to_string(),
            message_id: id.to_string(),
        }
    }
}

/// Jobs that go out in one adapter call: the same notification (message and sound) through
/// the same certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The message.
    pub message: MessageKey,
    /// The certificate carrying it.
    pub certificate_id: i64,
    /// The recipients' sound for this conversation kind.
    pub sound: Option<String>,
}

impl GroupKey {
    /// The group `job` belongs to.
    pub fn of(job: &PushJob) -> Self {
        Self {
            message: MessageKey::new(&job.app_id, &job.message_id),
            certificate_id: job.certificate_id,
            sound: job.sound.clone(),
        }
    }

    /// The app.
    pub fn app(&self) -> &str {
        &self.message.app_id
    }
}

/// Jobs sent in one adapter call and recorded in one write.
#[derive(Debug)]
pub struct Unit {
    /// What they share.
    pub key: GroupKey,
    /// The jobs.
    pub jobs: Vec<PushJob>,
}

/// Jobs by the adapter call they go out in.
pub fn group(jobs: Vec<PushJob>) -> HashMap<GroupKey, Vec<PushJob>> {
    let mut groups: HashMap<GroupKey, Vec<PushJob>> = HashMap::new();
    for job in jobs {
        groups.entry(GroupKey::of(&job)).or_default().push(job);
    }
    groups
}

/// How many jobs of a group make one unit: one vendor request for a batch vendor (at most
/// [`COMMIT_CHUNK`]), [`SINGLE_TARGET_CHUNK`] for a vendor that takes one target per request,
/// and never more than a [`PIPELINE_DEPTH`]th of the window. What is with the vendor when the
/// process dies is what may be sent twice.
pub fn unit_size(per_request: usize, window: usize) -> usize {
    let size = if per_request <= 1 {
        SINGLE_TARGET_CHUNK
    } else {
        per_request.min(COMMIT_CHUNK)
    };
    size.min((window / PIPELINE_DEPTH).max(1))
}

/// Cuts one group into units of at most `size` jobs, in order.
pub fn units(key: GroupKey, mut jobs: Vec<PushJob>, size: usize) -> Vec<Unit> {
    let size = size.max(1);
    let mut units = Vec::with_capacity(jobs.len().div_ceil(size));
    while jobs.len() > size {
        let rest = jobs.split_off(size);
        units.push(Unit {
            key: key.clone(),
            jobs: std::mem::replace(&mut jobs, rest),
        });
    }
    units.push(Unit { key, jobs });
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::Vendor;

    fn job(id: i64, message: &str, certificate_id: i64, sound: Option<&str>) -> PushJob {
        PushJob {
            id,
            app_id: "a1".into(),
            message_id: message.into(),
            user_id: format!("u{id}"),
            device_id: "d".into(),
            certificate_id,
            vendor: Vendor::Fcm,
            token: format!("t{id}"),
            badge: 1,
            sound: sound.map(str::to_string),
            attempts: 0,
            expires_at: i64::MAX,
            created_at: 0,
        }
    }

    #[test]
    fn jobs_group_by_message_certificate_and_sound() {
        let groups = group(vec![
            job(1, "m1", 1, None),
            job(2, "m1", 1, None),
            job(3, "m1", 2, None),
            job(4, "m1", 1, Some("ding")),
            job(5, "m2", 1, None),
        ]);
        let mut sizes: Vec<(String, i64, Option<String>, Vec<i64>)> = groups
            .into_iter()
            .map(|(key, jobs)| {
                (
                    key.message.message_id,
                    key.certificate_id,
                    key.sound,
                    jobs.iter().map(|j| j.id).collect(),
                )
            })
            .collect();
        sizes.sort();
        assert_eq!(
            sizes,
            vec![
                ("m1".into(), 1, None, vec![1, 2]),
                ("m1".into(), 1, Some("ding".into()), vec![4]),
                ("m1".into(), 2, None, vec![3]),
                ("m2".into(), 1, None, vec![5]),
            ]
        );
    }

    #[test]
    fn a_unit_is_one_vendor_request_and_a_quarter_of_the_window_at_most() {
        // Batch vendors: one request's worth, capped at the commit chunk.
        assert_eq!(unit_size(500, 10_000), 500);
        assert_eq!(unit_size(5000, 10_000), COMMIT_CHUNK);
        // One target per request: a few sends recorded together.
        assert_eq!(unit_size(1, 10_000), SINGLE_TARGET_CHUNK);
        // A small window keeps four units going side by side.
        assert_eq!(unit_size(500, 1000), 250);
        assert_eq!(unit_size(1, 64), 16);
        assert_eq!(unit_size(500, 2), 1);
    }

    #[test]
    fn a_group_is_cut_into_units_in_order() {
        let key = GroupKey::of(&job(0, "m1", 1, None));
        let jobs: Vec<PushJob> = (1..=7).map(|id| job(id, "m1", 1, None)).collect();
        let cut: Vec<Vec<i64>> = units(key, jobs, 3)
            .into_iter()
            .map(|unit| unit.jobs.iter().map(|j| j.id).collect())
            .collect();
        assert_eq!(cut, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    }
}
