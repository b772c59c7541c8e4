//! routeros-proto (placeholder: being written)
