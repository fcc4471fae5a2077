//! madoguchi-backend: the municipal issuance service kiosks talk to (ARCHITECTURE.md §5).
//!
//! Layout: the contract with the kiosks (`/v1` bodies, error codes, documents, the payload, the
//! configuration, signatures as verified, the client) is `madoguchi_api`; `domain` is the sans-IO
//! core (registry records, offers, issuance planning, building payloads); `flow` holds the resident flow's checks and state transitions over the database;
//! `server` and `tls` are the HTTP edge; `db`, `audit` and `registry` the storage edge.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod audit;
pub mod config;
pub mod console;
pub mod db;
pub mod domain;
pub mod error;
pub mod flow;
pub mod fuzzing;
pub mod openapi;
pub mod ops;
pub mod pki;
pub mod public;
pub mod registry;
pub mod server;
pub mod signing;
pub mod tls;
