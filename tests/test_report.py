"""The review page (`streamer report`, `annotate --report`) in a real browser.

Sidecars come from real annotate runs on the shared clips (a colour classifier names the faces:
sakurasou's girls `blue`, One Piece's Luffy `red`); the pages are opened from disk in Debian's
Chromium, driven by Playwright (no browser download).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import VIDEOS
from onnx_models import make_color_classifier
from streamer.annotate import annotate
from streamer.cli import main
from streamer.pipeline import LoopSettings
from streamer.report import write_report
from streamer.sidecar import read_sidecar

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def back_to_back(clips: list[Path], path: Path) -> Path:
    """The clips' pictures one after the other in one H.264 MP4 (the first one's size and rate;
    the others fit inside it between black bars)."""
    with av.open(str(clips[0])) as first:
        template = first.streams.video[0]
        width, height, rate = template.width, template.height, template.average_rate
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for clip in clips:
            with av.open(str(clip)) as container:
                for frame in container.decode(video=0):
                    scale = min(width / frame.width, height / frame.height)
                    fitted = frame.reformat(round(frame.width * scale) // 2 * 2, round(frame.height * scale) // 2 * 2,
                                            format="rgb24").to_ndarray()
                    canvas = np.zeros((height, width, 3), np.uint8)
                    top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
                    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
                    output.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        output.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> dict[str, Path]:
    """Two annotated episodes (labelled MP4 + sidecar side by side): {name: sidecar}.

    ep01 is sakurasou's clip then One Piece's, so its page has two characters (`blue`, `red`)
    whatever boxes the detector draws; ep02 is One Piece's clip alone.
    """
    folder = tmp_path_factory.mktemp("episodes")
    model = make_color_classifier(folder / "colours.onnx")
    sources = {
        "ep01": back_to_back([VIDEOS / "sakurasou_480p.mp4", VIDEOS / "onepiece_480p.mp4"], folder / "two_shows.mp4"),
        "ep02": VIDEOS / "onepiece_480p.mp4",
    }
    found = {}
    # At 0.55 the colour classifier calls sakurasou's faces blue (the paler ones may be unknown).
    settings = LoopSettings(threshold=0.55)
    for name, clip in sources.items():
        annotate(clip, folder / f"{name}.mp4", model, sidecar_path=folder / f"{name}.jsonl", settings=settings,
                 progress=False)
        found[name] = folder / f"{name}.jsonl"
    return found


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; `make setup` does it)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """open_page(path) → (page, errors): the page loaded from disk, and its console errors."""
    pages = []

    def opener(path: Path):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        pages.append(page)
        return page, errors

    yield opener
    for page in pages:
        page.close()


def summary_of(sidecar: Path):
    return read_sidecar(sidecar)[1]


def test_one_lane_per_character_a_bar_per_track_and_the_totals_of_the_summary(episodes, tmp_path, open_page):
    report = tmp_path / "ep01.html"
    write_report([episodes["ep01"]], report, video=episodes["ep01"].with_suffix(".mp4"))
    page, errors = open_page(report)
    summary = summary_of(episodes["ep01"])
    expected = {name: stats.tracks for name, stats in summary.characters.items()}
    if summary.unknown:
        expected["unknown"] = summary.unknown.tracks
    assert {"blue", "red"} <= set(expected)  # several lanes, or the test means little
    lanes = page.eval_on_selector_all(".lane", "lanes => lanes.map(l => [l.dataset.name, l.querySelectorAll('.bar').length])")
    assert dict(lanes) == expected
    shown = dict(page.eval_on_selector_all(".screen-time tr", "rows => rows.map(r => [r.dataset.name, parseFloat(r.dataset.seconds)])"))
    truth = {name: stats.screen_time for name, stats in summary.characters.items()}
    if summary.unknown:
        truth["unknown"] = summary.unknown.screen_time
    assert shown == pytest.approx(truth, abs=1e-3)
    assert page.locator(".axis .tick").count() >= 3  # the time axis, in m:ss
    assert page.locator(".axis .tick").first.inner_text() == "0:00"
    assert errors == []


def test_clicking_a_bar_or_a_thumbnail_seeks_the_video_to_its_start(episodes, tmp_path, open_page):
    report = tmp_path / "ep01.html"
    write_report([episodes["ep01"]], report, video=episodes["ep01"].with_suffix(".mp4"))
    page, errors = open_page(report)
    page.wait_for_function("document.getElementById('video').readyState >= 1")
    frame = 1001 / 24000
    for target in (page.locator(".bar").last, page.locator(".bar").nth(1), page.locator(".thumb").first):
        start = float(target.get_attribute("data-start"))
        target.click()
        page.wait_for_function("!document.getElementById('video').seeking")
        assert page.evaluate("document.getElementById('video').currentTime") == pytest.approx(start, abs=frame)
    assert page.locator(".thumb img").count() == page.locator(".thumb").count()  # every track has its face
    assert errors == []


def test_zoom_widens_the_timeline_for_a_long_episode(episodes, tmp_path, open_page):
    report = tmp_path / "ep01.html"
    write_report([episodes["ep01"]], report)
    page, _ = open_page(report)
    before = page.evaluate("document.querySelector('.lanes').getBoundingClientRect().width")
    page.locator("#zoom").fill("10")
    after = page.evaluate("document.querySelector('.lanes').getBoundingClientRect().width")
    assert after == pytest.approx(10 * before, rel=0.01)


def test_without_the_video_beside_it_the_page_works_without_the_player(episodes, tmp_path, open_page):
    alone = tmp_path / "alone.jsonl"
    shutil.copy(episodes["ep01"], alone)  # no alone.mp4 beside it
    write_report([alone], tmp_path / "alone.html")
    page, errors = open_page(tmp_path / "alone.html")
    assert page.locator("video").count() == 0
    assert page.locator(".bar").count() > 0
    page.locator(".bar").first.click()  # nothing to seek: no error either
    assert errors == []


def test_the_season_page_links_to_every_episode(episodes, tmp_path, open_page):
    folder = tmp_path / "season"
    folder.mkdir()
    for name, sidecar in episodes.items():
        shutil.copy(sidecar, folder / sidecar.name)
        shutil.copy(sidecar.with_suffix(".mp4"), folder / f"{name}.mp4")
    result = write_report(sorted(folder.glob("*.jsonl")), folder / "season.html")
    assert [p.name for p in result.pages] == ["season.html", "ep01.html", "ep02.html"]
    page, errors = open_page(folder / "season.html")
    links = page.eval_on_selector_all(".season a", "links => links.map(a => a.getAttribute('href'))")
    assert links == ["ep01.html", "ep02.html"]
    page.locator(".season a", has_text="ep02").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/ep02.html") and page.locator("h1").inner_text() == "ep02"
    assert errors == []


def test_annotate_report_writes_the_page_and_its_sidecar(tmp_path, capsys):
    model = make_color_classifier(tmp_path / "colours.onnx")
    code = main(["annotate", str(VIDEOS / "sakurasou_480p.mp4"), "-o", str(tmp_path / "out.mp4"), "-m", str(model),
                 "--report", "-q"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["colours.onnx", "out.html", "out.jsonl", "out.mp4"]
    text = (tmp_path / "out.html").read_text()
    assert '<video id="video" src="out.mp4"' in text and "http" not in text.split("<body>")[1]  # nothing from the network


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "has no summary"),  # cut short: the face records without the summary line
        ("version", "format version 9"),
        ("not a sidecar at all\n", "not a sidecar record"),
    ],
    ids=["truncated", "other-version", "not-a-sidecar"],
)
def test_a_bad_sidecar_is_one_line_and_no_page(episodes, tmp_path, capsys, content, message):
    lines = episodes["ep01"].read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    if content is None:
        bad.write_text("\n".join(lines[:-1]) + "\n")
    elif content == "version":
        summary = json.loads(lines[-1])
        summary["version"] = 9
        bad.write_text("\n".join(lines[:-1] + [json.dumps(summary)]) + "\n")
    else:
        bad.write_text(content)
    code = main(["report", str(bad), "-o", str(tmp_path / "bad.html")])
    err = capsys.readouterr().err
    assert code != 0 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "bad.html").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_an_existing_page_is_kept_without_force(episodes, tmp_path, capsys):
    page = tmp_path / "ep01.html"
    page.write_text("keep me")
    assert main(["report", str(episodes["ep01"]), "-o", str(page)]) != 0
    assert "pass --force" in capsys.readouterr().err and page.read_text() == "keep me"
    assert main(["report", str(episodes["ep01"]), "-o", str(page), "--force", "-q"]) == 0
    assert page.read_text().startswith("<!doctype html>")
