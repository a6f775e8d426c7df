//! The conformance behaviours, run for each vendor against its emulator.

mod conformance;

use conformance::*;
use herald_core::Vendor;

macro_rules! vendor_suite {
    ($name:ident, $vendor:expr, batch = $batch:expr, auth = $auth:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn good_push() {
                good_push_is_accepted_and_shown_on_the_phone($vendor).await;
            }
            #[tokio::test]
            async fn invalid_token() {
                unknown_token_is_reported_invalid_and_others_in_the_batch_still_go($vendor).await;
            }
            #[tokio::test]
            async fn auth_expiry_then_refresh() {
                expired_auth_is_refreshed_once_and_the_push_goes_through($vendor, $auth).await;
            }
            #[tokio::test]
            async fn retry_after() {
                too_many_requests_asks_to_retry_after_the_given_delay($vendor).await;
            }
            #[tokio::test]
            async fn server_error() {
                server_error_is_retried_later($vendor).await;
            }
            #[tokio::test]
            async fn oversize_payload() {
                oversize_payload_is_refused_before_any_request($vendor).await;
            }
            #[tokio::test]
            async fn truncation() {
                long_title_and_body_are_cut_on_a_character_boundary($vendor).await;
            }
            #[tokio::test]
            async fn batch_split() {
                a_batch_larger_than_the_vendor_limit_is_split($vendor, $batch).await;
            }
            #[tokio::test]
            async fn sent_as_previewed() {
                the_requests_sent_are_the_previewed_ones($vendor, $auth).await;
            }
        }
    };
}

vendor_suite!(huawei, Vendor::Huawei, batch = 1000, auth = Some("/oauth2/"));
vendor_suite!(fcm, Vendor::Fcm, batch = 1, auth = Some("/token"));
vendor_suite!(honor, Vendor::Honor, batch = 1000, auth = Some("/auth/"));
vendor_suite!(xiaomi, Vendor::Xiaomi, batch = 1000, auth = None);
vendor_suite!(oppo, Vendor::Oppo, batch = 1000, auth = Some("/server/v1/auth"));
vendor_suite!(vivo, Vendor::Vivo, batch = 1000, auth = Some("/message/auth"));
vendor_suite!(meizu, Vendor::Meizu, batch = 100, auth = None);
vendor_suite!(apns, Vendor::Apns, batch = 1, auth = None);
vendor_suite!(webpush, Vendor::Webpush, batch = 1, auth = None);
