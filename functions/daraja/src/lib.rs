//! daraja (placeholder: being written)
