//! konnekted-e2e (placeholder: being written)
