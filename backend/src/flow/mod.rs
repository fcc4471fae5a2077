//! The resident flow over the database: challenge, authenticate, offers, issuance, outcome,
//! close; the sweeper; verification; settlement; catalog and configuration. No HTTP here: the
//! handlers in `server` call these, so do the CLI and tests.
//!
//! Every state change is one conditional statement or one transaction whose `WHERE` clause
//! re-checks the state it depends on, so concurrent requests from any number of kiosks and
//! instances cannot interleave into a wrong result: a document is built from the session row's
//! own resident and certificate, and bound to them in the signed payload.
//!
//! One module per step, each on `context` (who calls, the session row) and nothing above it.

mod catalog;
mod context;
mod issuance;
mod ledger;
mod offers;
pub mod pin_reset;
mod session;

pub use catalog::{catalog, check_admin_scope, get_config, put_config, put_config_from, set_config};
pub use context::{
    check_authenticated, describe_time, new_issuance_number, ChainCache, Context, Ctx, Principal, SessionRow,
};
pub use issuance::{close_session, issue, outcome, sweep};
pub use ledger::{settlement, verify};
pub use offers::offers;
pub use session::{authenticate, open_session};
