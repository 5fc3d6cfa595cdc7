#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deadlines;
mod discovery;
mod endorse;
mod evaluate;
mod events;
mod fixture;
mod plans;
mod submit;
mod wire;
