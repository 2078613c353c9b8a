//! Import throughput: a generated 1,000,000-row CSV export (semicolon, Windows-1252, BSN column,
//! consent column, value maps, split lists, dd-mm-yyyy dates) translated, validated and written as
//! NDJSON; with the baseline of reading the same file with the csv crate alone, in the same run.
//! Peak memory is the process's VmHWM. Run: `cargo bench -p translate --bench translate`
//! (`BENCH_ROWS=n` for another size). Reported in BENCHMARKS.md.
use std::io::{BufWriter, Write};

// as the matchgate binary: mimalloc, whose frees from another thread are cheap (records are read,
// translated and written on different threads)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;
use translate::{mapping::Mapping, Reject, Sink, Translator};

const MAPPING: &str = r#"
kind = "werkzoekende"
[source]
format = "csv"
delimiter = ";"
encoding = "windows-1252"
[identity]
column = "klantnummer"
bsn_column = "bsn"
[consent]
column = "toestemming"
share = ["J"]
contact = ["J"]
[fields."mobiliteit.bemiddelingspostcode"]
column = "postcode"
remove = " "
required = true
[fields."mobiliteit.maximaleReisafstand"]
column = "reisafstand"
[fields."werktijden.aantalWerkurenPerWeekMinimaal"]
column = "uren_min"
[fields."werktijden.aantalWerkurenPerWeekMaximaal"]
column = "uren_max"
[fields."arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"]
column = "rijbewijzen"
split = ","
[fields."arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"]
column = "opleiding"
map = { "vmbo" = 2, "havo" = 3, "mbo" = 4, "hbo" = 5, "wo" = 6 }
[fields."arbeidsmarktkwalificatie.taalbeheersing[0].codeTaal"]
value = "nld"
[fields."arbeidsmarktkwalificatie.taalbeheersing[0].codeNiveauTaalbeheersingMondeling"]
column = "nl_mondeling"
[fields."flexibiliteit.datumAanvangBeschikbaarVoorWerk"]
column = "vanaf"
date_format = "dd-mm-yyyy"
[fields."telefoonnummer[]"]
column = "telefoon"
[fields."arbeidsmarktkwalificatie.werkervaring[0].toelichtingWerkervaring"]
column = "toelichting"
"#;

fn bsn(n: u64) -> String {
    // 8 digits from n (unique for n < 40M), then the check digit; when it would be 10, use the
    // disjoint range 50M + n instead
    for base in [10_000_000 + n, 50_000_000 + n] {
        let d: Vec<u64> = format!("{base:08}")
            .bytes()
            .map(|b| u64::from(b - b'0'))
            .collect();
        let s: u64 = d.iter().enumerate().map(|(i, x)| x * (9 - i as u64)).sum();
        if s % 11 < 10 {
            return format!("{base:08}{}", s % 11);
        }
    }
    unreachable!("one of the two bases has a check digit below 10 for the generated range")
}

fn generate(path: &std::path::Path, rows: u64) -> u64 {
    let pc4 = [
        "3011", "1012", "9711", "5611", "6811", "2511", "3511", "7511", "8011", "4811",
    ];
    let lic = ["B", "B,BE", "", "AM", "C,CE"];
    let opl = ["vmbo", "havo", "mbo", "hbo", "wo"];
    let toel = [
        "Ervaring in de thuiszorg, ook ’s avonds.",
        "Heeft een café gerund.",
        "Heftruckcertificaat, zoekt werk in de logistiek.",
        "",
    ];
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    w.write_all(b"klantnummer;bsn;postcode;reisafstand;uren_min;uren_max;rijbewijzen;opleiding;nl_mondeling;vanaf;telefoon;toelichting;toestemming;naam\r\n").unwrap();
    for i in 0..rows {
        let line = format!(
            "K{i:08};{};{} {}{};{};{};{};{};{};{};{:02}-{:02}-2027;06-{:08};{};{};Persoon {i}\r\n",
            bsn(i),
            pc4[(i % 10) as usize],
            (b'A' + (i % 26) as u8) as char,
            (b'B' + (i / 26 % 24) as u8) as char,
            5 + i % 60,
            8 + i % 16,
            24 + i % 16,
            lic[(i % 5) as usize],
            opl[(i % 5) as usize],
            1 + i % 4,
            1 + i % 28,
            1 + i % 12,
            i % 100_000_000,
            toel[(i % 4) as usize],
            if i % 10 == 0 { "N" } else { "J" },
        );
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&line);
        w.write_all(&bytes).unwrap();
    }
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

struct FileSink(BufWriter<std::fs::File>, u64);
impl Sink for FileSink {
    fn accepted(&mut self, _row: u64, _id: &str, doc: &serde_json::Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, doc)?;
        self.0.write_all(b"\n")
    }
    // as `matchgate translate` does: the translating threads serialise
    fn wants_json(&self) -> bool {
        true
    }
    fn accepted_json(&mut self, _row: u64, _id: &str, json: &[u8]) -> std::io::Result<()> {
        self.0.write_all(json)?;
        self.0.write_all(b"\n")
    }
    fn rejected(&mut self, r: &[Reject], _o: &[(String, String)]) -> std::io::Result<()> {
        self.1 += r.len() as u64;
        Ok(())
    }
}

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|k| k / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.csv");
    let t = Instant::now();
    let bytes = generate(&input, rows);
    println!(
        "generated {rows} rows, {:.1} MB, in {:.1}s (not measured below)",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let before = vm_hwm_mib();

    // baseline: read every record of the same file with the csv crate, nothing else
    let t = Instant::now();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&input)
        .unwrap();
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    while rdr.read_byte_record(&mut rec).unwrap() {
        n += 1;
    }
    let base = t.elapsed().as_secs_f64();
    assert_eq!(n, rows);

    let mapping = Mapping::parse(MAPPING, std::path::Path::new("bench.toml")).unwrap();
    println!(
        "csv crate read only (baseline)     {:>10.0} rows/s  {:.2}s",
        rows as f64 / base,
        base
    );
    // the same export on one thread and on two, in this run, interleaved in rounds (this machine
    // is shared: the median of the per-round ratios); the outputs must be identical
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let mut secs_by_threads = [0.0f64; 2];
    for round in 0..rounds {
        let mut wall = [0.0f64; 2];
        let mut cpu = [0.0f64; 2];
        for (k, threads) in [1usize, 2].into_iter().enumerate() {
            let mut tr = Translator::new(
                mapping.clone(),
                b"bench-node-secret-0123456789",
                vum::Validator::with_today("2026-11-22"),
            )
            .with_threads(threads);
            let out_path = dir.path().join(format!("out-{threads}.ndjson"));
            let mut sink = FileSink(
                BufWriter::with_capacity(1 << 20, std::fs::File::create(&out_path).unwrap()),
                0,
            );
            let (t, c) = (Instant::now(), cpu_seconds());
            let s = tr.run(&input, &mut sink).unwrap();
            sink.0.flush().unwrap();
            let secs = t.elapsed().as_secs_f64();
            wall[k] = secs;
            cpu[k] = cpu_seconds() - c;
            let out = std::fs::metadata(&out_path).unwrap().len();
            println!("round {round}: translate+validate+write NDJSON, {threads} thread(s) {:>10.0} rows/s  {:.2}s wall, {:.2}s CPU  (read {}, accepted {}, filtered {}, rejected {}; output {:.1} MB)", rows as f64 / secs, secs, cpu[k], s.read, s.accepted, s.filtered, s.rejected, out as f64 / 1e6);
            if threads == 1 && round == 0 {
                println!("rejected by rule: {:?}", s.rejected_by_rule);
                println!(
                    "ratio translate (1 thread) / bare csv read: {:.3}",
                    base / secs
                );
            }
        }
        ratios.push(wall[0] / wall[1]);
        cpu_ratios.push(cpu[1] / cpu[0]);
        secs_by_threads[0] += wall[0] / rounds as f64;
        secs_by_threads[1] += wall[1] / rounds as f64;
    }
    ratios.sort_by(f64::total_cmp);
    cpu_ratios.sort_by(f64::total_cmp);
    println!(
        "per-round ratios 2 threads / 1 thread: {:?}; CPU time 2 threads / 1 thread: {:?}",
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>(),
        cpu_ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
    );
    let same = files_equal(
        &dir.path().join("out-1.ndjson"),
        &dir.path().join("out-2.ndjson"),
    );
    println!(
        "ratio 2 threads / 1 thread (median of {rounds} rounds): {:.2} (target >= 1.6); outputs byte-identical: {same}",
        ratios[ratios.len() / 2]
    );
    let secs = secs_by_threads[1];
    println!(
        "peak RSS (VmHWM) {:.1} MiB (after generation, before runs: {:.1} MiB)",
        vm_hwm_mib(),
        before
    );
    println!(
        "target: {rows} rows in under 60 s -> {}; under 256 MiB -> {}",
        if secs < 60.0 { "met" } else { "NOT met" },
        if vm_hwm_mib() < 256.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}

fn files_equal(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (
        std::io::BufReader::new(std::fs::File::open(a).unwrap()),
        std::io::BufReader::new(std::fs::File::open(b).unwrap()),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = a.read(&mut x).unwrap();
        let mut m = 0;
        while m < n {
            let k = b.read(&mut y[m..n]).unwrap();
            if k == 0 {
                return false;
            }
            m += k;
        }
        if x[..n] != y[..n] {
            return false;
        }
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
    }
}

/// CPU time of the whole process so far (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the command name (which is in parentheses): utime is the 14th, stime the 15th
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
