//! Billing: tariffs (evmon TOML and OCPI JSON), pricing sessions into
//! lines with exact decimal money, invoices, and OCPI CDRs.
//!
//! Semantics and the readings taken where OCPI allows two are in the
//! README ("Billing"); the sources are in `reference/billing.md`.

pub mod cdr;
pub mod engine;
pub mod invoice;
pub mod money;
pub mod tariff;

pub use engine::{price_session, Line, LineKind, SessionBill, SessionInput, Split};
pub use invoice::{invoices, Charge, GroupBy, Invoice, Invoicing, Totals};
pub use tariff::{load, Tariff, TariffSet};
