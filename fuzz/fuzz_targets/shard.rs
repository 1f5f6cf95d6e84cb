//! The `--shard` argument, with any Slurm variables: a shard with index < count, or an error.
#![no_main]

use heavyball::shard::ShardArg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let arg = parts.next().unwrap_or("");
    let vars: Vec<String> = parts.map(str::to_string).collect();
    let Ok(parsed) = arg.parse::<ShardArg>() else { return };
    let env = |name: &str| match name {
        "SLURM_ARRAY_TASK_ID" => vars.first().cloned(),
        "SLURM_ARRAY_TASK_MIN" => vars.get(1).cloned(),
        "SLURM_ARRAY_TASK_COUNT" => vars.get(2).cloned(),
        _ => None,
    };
    if let Ok(shard) = parsed.resolve(env) {
        assert!(shard.index < shard.count);
    }
});
