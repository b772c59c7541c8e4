//! konnekted-radius (placeholder: being written)
