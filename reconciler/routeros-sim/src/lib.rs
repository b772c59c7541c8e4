//! routeros-sim (placeholder: being written)
