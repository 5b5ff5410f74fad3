"""The site's own JS and CSS stay small: at most 50 KB gzipped (level 9, each file, summed),
the vendored Voice SDK aside."""

from __future__ import annotations

from pathlib import Path

from benchmarks.site_budget import BUDGET_BYTES, SITE, gzipped_sizes, own_assets


def test_the_sites_own_js_and_css_are_at_most_50_kb_gzipped() -> None:
    sizes = gzipped_sizes()
    total = sum(sizes.values())
    listed = "\n".join(f"  {size:>7,} B  {name}" for name, size in sorted(sizes.items()))
    assert sizes, f"no .js or .css found under {SITE}"
    assert total <= BUDGET_BYTES, (
        f"The site's own JS and CSS are {total:,} bytes gzipped, over the budget of "
        f"{BUDGET_BYTES:,}:\n{listed}"
    )


def test_the_budget_counts_every_own_file_and_leaves_out_the_vendored_sdk(tmp_path: Path) -> None:
    for name in ("app.js", "styles.css", "pages/deep.js", "vendor/twilio-voice/twilio.min.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x" * 1000)
    (tmp_path / "index.html").write_text("<p>not counted</p>")
    assert [p.relative_to(tmp_path).as_posix() for p in own_assets(tmp_path)] == [
        "app.js",
        "pages/deep.js",
        "styles.css",
    ]
    sizes = gzipped_sizes(tmp_path)
    assert set(sizes) == {"app.js", "pages/deep.js", "styles.css"}
    assert all(0 < size < 1000 for size in sizes.values())  # compressed, each on its own
