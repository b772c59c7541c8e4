//! daraja-sim (placeholder: being written)
