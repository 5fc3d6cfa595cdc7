//! Peer-side block verification, transaction validation and commit: TRANSACTIONS_FILTER, COMMIT_HASH, state and history.
