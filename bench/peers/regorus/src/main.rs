// bench-rego peer: the regorus crate on the bench policy.
// Usage: regorus-bench DIR. Checks every decision against DIR/expected first,
// then prints "regorus: N decisions/s" (one thread, round-robin over the inputs).
use regorus::{Engine, Value};
use std::{env, fs, process};

fn fail(msg: String) -> ! {
    eprintln!("regorus: {}", msg);
    process::exit(1)
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 2 {
        eprintln!("usage: regorus-bench DIR");
        process::exit(2);
    }
    let dir = &args[1];
    let query = fs::read_to_string(format!("{}/query", dir))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "data.enclave.bench.decision".to_string());
    let mut engine = Engine::new();
    let mut mods: Vec<_> = fs::read_dir(dir).unwrap_or_else(|e| fail(e.to_string()))
        .filter_map(|e| e.ok()).map(|e| e.path())
        .filter(|p| p.extension().map(|x| x == "rego").unwrap_or(false)).collect();
    mods.sort();
    for m in mods {
        let text = fs::read_to_string(&m).unwrap_or_else(|e| fail(e.to_string()));
        engine.add_policy(m.display().to_string(), text).unwrap_or_else(|e| fail(e.to_string()));
    }
    if let Ok(d) = fs::read_to_string(format!("{}/data.json", dir)) {
        let v = Value::from_json_str(&d).unwrap_or_else(|e| fail(e.to_string()));
        engine.add_data(v).unwrap_or_else(|e| fail(e.to_string()));
    }
    let mut names: Vec<_> = fs::read_dir(format!("{}/inputs", dir)).unwrap_or_else(|e| fail(e.to_string()))
        .filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json")).collect();
    names.sort();
    let mut inputs = Vec::new();
    for n in &names {
        let text = fs::read_to_string(format!("{}/inputs/{}", dir, n)).unwrap_or_else(|e| fail(e.to_string()));
        let input = Value::from_json_str(&text).unwrap_or_else(|e| fail(e.to_string()));
        let want_text = fs::read_to_string(format!("{}/expected/{}", dir, n)).unwrap_or_else(|e| fail(e.to_string()));
        let want = Value::from_json_str(&want_text).unwrap_or_else(|e| fail(e.to_string()));
        engine.set_input(input.clone());
        let got = engine.eval_rule(query.clone()).unwrap_or_else(|e| fail(format!("{}: {}", n, e)));
        if got != want {
            fail(format!("{}: decided {}", n, got.to_json_str().unwrap_or_default()));
        }
        inputs.push(input);
    }
    // Decisions per CPU-second of this thread: the best of five slices,
    // as the C bench does.
    let mut best = 0.0f64;
    let mut count: usize = 0;
    for _ in 0..5 {
        let start = count;
        let t0 = cpu_seconds();
        let el;
        loop {
            for _ in 0..64 {
                engine.set_input(inputs[count % inputs.len()].clone());
                if let Err(e) = engine.eval_rule(query.clone()) {
                    fail(e.to_string());
                }
                count += 1;
            }
            let t = cpu_seconds() - t0;
            if t >= 0.4 {
                el = t;
                break;
            }
        }
        best = best.max((count - start) as f64 / el);
    }
    println!("regorus:                     {:10.0} decisions/s", best);
}

/// CPU time of this thread, from /proc/thread-self/schedstat (nanoseconds on the CPU).
fn cpu_seconds() -> f64 {
    let s = fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns: f64 = s.split_whitespace().next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ns / 1e9
}
