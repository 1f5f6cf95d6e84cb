//! `report/index.html` in a real browser: Debian's chromium, headless, driven through
//! chromedriver's WebDriver interface. The page must load from a real sweep with no console
//! errors, draw every run, show the right run when the mouse hovers one of its points, hide runs
//! when their α is unticked, and switch the axis between log and linear.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the test says
//! so and passes, unless `HEAVYBALL_BROWSER_TEST=required`, as CI sets it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Sweep, heavyball};

const SWEEP: &str = r#"
name = "page"
[data]
builtin = "iris"
test_fraction = 0.2
[train]
iterations = 40
divergence_factor = 10
[grid]
hidden = [3, 5]
gamma = [0.01, 0.1, 3.0]
alpha = [1.0, 0.5]
seed = [0, 1]
"#;

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n))).find(|p| p.is_file())
}

fn start_driver(driver: &Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let start = Instant::now();
    while ureq::get(&format!("{}/status", driver.url)).call().is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver
}

/// One WebDriver session.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.url, self.id);
        let request = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let response = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        match response {
            Ok(r) => r.into_json::<Value>().unwrap()["value"].clone(),
            Err(ureq::Error::Status(code, r)) => {
                panic!("{method} {path}: {code} {}", r.into_string().unwrap())
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn script(&self, source: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": source, "args": args })))
    }

    fn state(&self) -> Value {
        self.script("return window.heavyball.state();", json!([]))
    }

    /// Scrolls the chart to the top of the window, a place that does not depend on what a
    /// click scrolled to before: the page opens on its head-to-head section, above the chart.
    fn show_chart(&self) {
        self.script("document.getElementById('canvas').scrollIntoView({ block: 'start' });", json!([]));
    }

    fn mouse_to(&self, x: f64, y: f64) {
        let actions = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [{ "type": "pointerMove", "duration": 0, "origin": "viewport",
                          "x": x.round() as i64, "y": y.round() as i64 }]
        }]});
        self.call("POST", "/actions", Some(actions));
    }

    fn click(&self, css: &str) {
        let element = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        let id =
            element.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_string();
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// The tooltip's rows by key, when it is shown.
    fn tooltip(&self) -> Option<std::collections::BTreeMap<String, String>> {
        let rows = self.script(
            "const t = document.getElementById('tooltip'); if (t.hidden) return null; \
             return Array.from(t.children).map(r => [r.dataset.key, r.textContent]);",
            json!([]),
        );
        rows.as_array().map(|rows| {
            rows.iter()
                .map(|r| {
                    let key = r[0].as_str().unwrap().to_string();
                    let text = r[1].as_str().unwrap();
                    (key.clone(), text.trim_start_matches(&format!("{key}: ")).to_string())
                })
                .collect()
        })
    }

    /// Console messages at level SEVERE (errors and uncaught exceptions).
    fn console_errors(&self) -> Vec<String> {
        let log = self.call("POST", "/se/log", Some(json!({ "type": "browser" })));
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// The training loss of the run named `name` at `iteration`, from its curve.csv.
fn curve_loss(sweep: &Path, name: &str, iteration: usize) -> f64 {
    let folder = std::fs::read_dir(sweep.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{name}-")))
        .unwrap();
    let curve = std::fs::read_to_string(folder.join("curve.csv")).unwrap();
    let row = curve.lines().skip(1).find(|l| l.split(',').next() == Some(&iteration.to_string())).unwrap();
    row.split(',').nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_interactive_page_renders_hovers_and_toggles_in_chromium() {
    let required = std::env::var("HEAVYBALL_BROWSER_TEST").is_ok_and(|v| v == "required");
    let (Some(browser), Some(driver)) = (find(&["chromium", "chromium-browser"]), find(&["chromedriver"]))
    else {
        assert!(!required, "HEAVYBALL_BROWSER_TEST=required, but chromium or chromedriver is not installed");
        eprintln!("skipped: chromium and chromedriver are needed (apt install chromium chromium-driver)");
        return;
    };
    let sweep = Sweep::new(SWEEP);
    sweep.run(&["--quiet"]);
    heavyball().arg("report").arg(sweep.folder()).assert().success();
    let page = sweep.folder().join("report/index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing is fetched, not even the report's own figures (inlined).
    for outside in ["http://", "https://", "<script src", "<link", "<img", "url("] {
        assert!(!html.contains(outside), "index.html refers to something outside it: {outside}");
    }
    assert!(html.matches("<figure><svg").count() >= 6, "the figures are inlined");

    let driver = start_driver(&driver);
    let capabilities = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1300,1000"]
        }
    }}});
    let created = ureq::post(&format!("{}/session", driver.url))
        .timeout(Duration::from_secs(120))
        .send_json(capabilities)
        .expect("a chromium session")
        .into_json::<Value>()
        .unwrap();
    let id = created["value"]["sessionId"].as_str().unwrap().to_string();
    let session = Session { driver: &driver, id };
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    session.call("POST", "/url", Some(json!({ "url": url })));

    // Every run is drawn; the tables are there.
    let state = session.state();
    assert_eq!(state["runs"], 24, "{state}");
    assert_eq!(state["shown"], 24, "{state}");
    assert_eq!(state["log"], true);
    let tables = session.script("return document.querySelectorAll('#report table').length;", json!([]));
    assert!(tables.as_u64().unwrap() >= 3, "{tables}");
    assert!(session.console_errors().is_empty(), "{:?}", session.console_errors());

    // Hovering the last point of each run shows a run, and what it shows is that run's: its
    // name, M, γ, α and seed, the iteration and the loss of curve.csv. Most points are apart from
    // every other run's; there the run hovered is the run shown.
    let runs = session.script("return window.heavyball.runs();", json!([]));
    session.show_chart();
    let mut exact = Vec::new();
    for run in runs.as_array().unwrap() {
        let name = run["name"].as_str().unwrap().to_string();
        let k = run["points"].as_u64().unwrap() - 1;
        let at =
            session.script("return window.heavyball.locate(arguments[0], arguments[1]);", json!([name, k]));
        if at.is_null() {
            continue; // A diverged run's last value is not drawn.
        }
        let (x, y) = (at["x"].as_f64().unwrap(), at["y"].as_f64().unwrap());
        session.mouse_to(x, y);
        let tip = session.tooltip().expect("a tooltip after hovering a point");
        let shown =
            runs.as_array().unwrap().iter().find(|r| r["name"] == tip["run"].as_str()).expect("a run's name");
        assert_eq!(tip["M"], shown["m"].to_string(), "{tip:?}");
        assert_eq!(tip["seed"], shown["seed"].to_string(), "{tip:?}");
        assert!(tip["α"].starts_with(&shown["alpha"].to_string()), "{tip:?}");
        assert_eq!(tip["γ"].parse::<f64>().unwrap(), shown["gamma"].as_f64().unwrap(), "{tip:?}");
        let iteration: usize = tip["iteration"].parse().unwrap();
        let expected = curve_loss(&sweep.folder(), &tip["run"], iteration);
        let loss: f64 = tip["training loss"].parse().unwrap();
        assert!(
            (loss - expected).abs() <= 1e-4 * expected.abs(),
            "tooltip {loss} against curve.csv {expected}"
        );
        assert_eq!(session.state()["hover"], tip["run"].as_str());
        if tip["run"] == name {
            // The last point drawn: iteration 40, or where a diverged run stopped.
            let stopped = tip.get("status").is_some_and(|s| s == "diverged");
            assert!(iteration == 40 || stopped && iteration < 40, "{tip:?}");
            exact.push((name, x, y));
        }
    }
    assert!(exact.len() >= 8, "hovering a run's point showed that run only {} times", exact.len());

    // Unticking α = 0.5 hides its 12 runs, and hovering where one was shows it no more.
    let (name, x, y) =
        exact.iter().find(|(n, _, _)| n.contains("-a0.5-")).expect("a momentum run hovered").clone();
    session.click("input[data-group='alpha'][value='0.5']");
    assert_eq!(session.state()["shown"], 12);
    session.show_chart();
    session.mouse_to(5.0, 5.0);
    session.mouse_to(x, y);
    assert!(session.tooltip().is_none_or(|t| t["run"] != name), "a hidden run is still hovered");
    // Unticking M = 3 leaves M = 5's GD runs; ticking α again brings its 6 runs of M = 5 back.
    session.click("input[data-group='hidden'][value='3']");
    assert_eq!(session.state()["shown"], 6);
    session.click("input[data-group='alpha'][value='0.5']");
    assert_eq!(session.state()["shown"], 12);

    // Log to linear: the axis labels change from powers of ten to an even spacing.
    let log_ticks = session.state()["yTicks"].as_str().unwrap().to_string();
    session.click("#log");
    let state = session.state();
    assert_eq!(state["log"], false);
    assert_ne!(state["yTicks"].as_str().unwrap(), log_ticks, "{state}");
    assert!(session.console_errors().is_empty(), "{:?}", session.console_errors());
    // The check above can fail: an error the page logs is seen.
    session.script("console.error('probe of the console check');", json!([]));
    assert!(session.console_errors().iter().any(|e| e.contains("probe of the console check")));
    session.call("DELETE", "", None);
}
