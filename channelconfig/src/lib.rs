//! Channel configuration: the typed channel bundle, config update processing and config block validation.
