//! `report.html` rendered by headless Chromium: the page must draw (not
//! blank), with every plot inline and visible. Ignored unless asked for
//! (`cargo test -- --ignored`, as `.ci/run` does after installing Debian's
//! `chromium`); without a browser it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The browser, from `SWEEP_CHROMIUM` or the `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SWEEP_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
            .find(|p| p.is_file())
    })
}

/// Chromium in headless mode with the flags a closed, root-run machine needs.
fn headless(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Runs a small real sweep (λ × 2 seeds) and returns its results folder.
fn small_sweep(tmp: &Path) -> PathBuf {
    let file = tmp.join("browser.toml");
    fs::write(
        &file,
        "name = \"browser\"\ndescription = \"Rendered by Chromium.\"\n\
         [data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
         [model]\nhidden_size = 32\n[train]\nepochs = 3\n\
         [grid]\nlambda = [0, 0.003, 0.03]\nseed = { count = 3 }\n",
    )
    .unwrap();
    let out = tmp.join("results");
    let status = crate::util::sweep()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert!(status.status.success());
    out.join("browser")
}

/// RGB pixels of a PNG file, with its width.
fn pixels(path: &Path) -> (Vec<[u8; 3]>, u32) {
    let decoder = png::Decoder::new(fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (px, info.width)
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium); cargo test -- --ignored runs it"]
fn the_report_renders_in_headless_chromium_with_every_plot() {
    let browser = chromium();
    crate::util::require(
        browser.is_some(),
        "chromium on the PATH: apt-get install chromium",
    );
    let Some(browser) = browser else { return };
    let tmp = TempDir::new().unwrap();
    let dir = small_sweep(tmp.path());
    let page = dir.join("report.html");
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let plots = fs::read_dir(dir.join("plots"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("svg".as_ref()))
        .count();
    // Gap against accuracy, gap, accuracy and loss against λ, the learning
    // curves, and the three measures that rank the gap best.
    assert_eq!(plots, 8);

    // The DOM after loading holds every plot inline.
    let dom = headless(&browser, &tmp.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), plots, "inline SVGs in the DOM");
    for id in [
        "gap_vs_accuracy",
        "gap_vs_lambda",
        "accuracy_vs_lambda",
        "learning_curves",
    ] {
        assert!(
            dom.contains(&format!("<figure id=\"{id}\"")),
            "no figure {id}"
        );
    }
    assert!(dom.contains("Rendered by Chromium."));

    // The screenshot is not blank and shows the plots' colours.
    let shot = tmp.path().join("page.png");
    let run = headless(&browser, &tmp.path().join("profile-shot"))
        .arg("--window-size=1280,6000")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (px, width) = pixels(&shot);
    assert_eq!(width, 1280);
    let inked = px.iter().filter(|p| p.iter().any(|&c| c < 200)).count();
    assert!(
        inked > px.len() / 100,
        "the page looks blank: {inked} of {} pixels inked",
        px.len()
    );
    // Okabe–Ito blue (test accuracy and first series) and vermilion
    // (training accuracy), as the plots draw them.
    let near = |p: &[u8; 3], q: [u8; 3]| p.iter().zip(q).all(|(&a, b)| a.abs_diff(b) < 30);
    let blue = px.iter().filter(|p| near(p, [0, 114, 178])).count();
    let orange = px.iter().filter(|p| near(p, [213, 94, 0])).count();
    assert!(blue > 5_000, "too few plot pixels in blue: {blue}");
    assert!(orange > 2_000, "too few plot pixels in vermilion: {orange}");
    // Rows from top to bottom that hold plot colour: the plots are spread
    // down the page (one below the other), not one small picture.
    let rows_with_plot = px
        .chunks(width as usize)
        .filter(|row| row.iter().any(|p| near(p, [0, 114, 178])))
        .count();
    assert!(
        rows_with_plot > 500,
        "plots cover only {rows_with_plot} rows"
    );
}
