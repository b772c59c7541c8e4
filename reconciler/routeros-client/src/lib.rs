//! routeros-client (placeholder: being written)
