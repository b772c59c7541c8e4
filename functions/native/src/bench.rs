//! Placeholder replaced below.
pub async fn callbacks(_args: &mut Vec<String>) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
