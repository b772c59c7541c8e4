//! konnekted-core (placeholder: being written)
