//! Block storage shared by peer and orderer, and the peer's state, history and private-data stores.
