//! The Fabric Gateway and Discovery services of the peer.
