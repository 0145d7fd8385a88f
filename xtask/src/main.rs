//! cargo xtask: project automation (demo, test, bench).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
