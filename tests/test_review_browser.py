"""The review app in a real browser (Debian's chromium via chromedriver) against the real server,
started as `python -m proteinlm benchgen review ...` in a subprocess.

Skipped when chromium, chromedriver or selenium is missing, except with PROTEINLM_REQUIRE_BROWSER=1
(CI sets it), where that is a failure. The tests run in file order and share one server and one
browser: each continues the review where the previous one left it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FIXTURE = REPO / "tests" / "fixtures" / "review_run"


def _missing() -> str:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return "chromium / chromium-driver not installed (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[dev]')"
    return ""


if _missing():
    if os.environ.get("PROTEINLM_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"PROTEINLM_REQUIRE_BROWSER=1 but {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class Server:
    """`benchgen review` as a subprocess; `url` is what it printed."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.proc, self.url = run_dir, None, ""

    def start(self) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proteinlm", "benchgen", "review", str(self.run_dir), "--port", "0",
             "--reviewer", "alice", "--reviews-needed", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        found: list[str] = []
        self.output: list[str] = []

        def read():
            for line in self.proc.stdout:  # read to the end: keeps the pipe drained
                self.output.append(line)
                if not found and (m := re.search(r"Review at (http://\S+)", line)):
                    found.append(m.group(1))

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not found and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        assert found, f"the review server printed no URL (exit {self.proc.poll()}): {''.join(self.output)}"
        self.url = found[0].rstrip("/")
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def _browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,860", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    return driver


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    target = tmp_path_factory.mktemp("review") / "run"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="module")
def server(run_dir):
    srv = Server(run_dir).start()
    yield srv
    if srv.proc.poll() is None:
        srv.proc.terminate()
        srv.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def profiles():
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        yield first, second


@pytest.fixture(scope="module")
def alice(profiles):
    driver = _browser(profiles[0])
    yield driver
    driver.quit()


def wait_for(driver, css: str, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def acknowledged(driver, message: str) -> None:
    """Wait for the page after a POST that says `message`: the decision is on disk by then."""
    WebDriverWait(driver, 10).until(EC.text_to_be_present_in_element((By.ID, "flashes"), message))


def current_qid(driver) -> str:
    return wait_for(driver, "#qid").text


def press(driver, *keys) -> None:
    """Keys typed into whatever has the focus, as a user types them (once the page's shortcuts are on)."""
    wait_for(driver, "html[data-shortcuts=on]")
    ActionChains(driver).send_keys(*keys).perform()


def test_question_page_shows_provenance_and_markup_as_text(server, alice):
    alice.get(server.url + "/q/2")
    text = wait_for(alice, "#question-text").text
    assert "<script>alert(1)</script>" in text and "onerror=alert(2)" in text
    options = [e.text for e in alice.find_elements(By.CSS_SELECTOR, "#options .option-text")]
    assert options[0] == "<b>nothing</b>" and options[2] == "onerror=alert(3)"
    with pytest.raises(NoAlertPresentException):
        alice.switch_to.alert  # noqa: B018 - no script of the question ran
    assert "pwned" not in alice.title
    assert alice.find_elements(By.CSS_SELECTOR, "#question-text script, #question-text img, #options b") == []
    assert alice.find_element(By.CSS_SELECTOR, "#evidence mark").text == "the quoted span"
    assert "<script>alert(4)</script>" in alice.find_element(By.ID, "evidence").text
    assert "PMC200" in alice.find_element(By.ID, "article").text
    assert "coherence 0.500" in alice.find_element(By.ID, "scores").text
    assert "closed book" in alice.find_element(By.ID, "validator").text
    assert "A accept" in alice.find_element(By.CSS_SELECTOR, ".keys").text


def test_accept_and_reject_by_clicks(server, alice):
    alice.get(server.url + "/")
    assert current_qid(alice) == "PMC100:c0:q0"
    alice.find_element(By.ID, "accept").click()
    acknowledged(alice, "Accepted question 1")
    assert current_qid(alice) == "PMC100:c0:q1"
    assert "accepted 0" in alice.find_element(By.ID, "progress").text  # two reviews needed
    alice.find_element(By.ID, "reason-several_correct").click()
    alice.find_element(By.ID, "reject").click()
    acknowledged(alice, "Rejected question 2")


def test_edit_stores_a_new_version(server, alice):
    assert current_qid(alice) == "PMC200:c3200:q0"
    alice.find_element(By.ID, "skip").click()
    acknowledged(alice, "Skipped question 3")
    assert current_qid(alice) == "PMC200:c3200:q1"
    alice.find_element(By.ID, "edit").click()
    box = wait_for(alice, "#edit-question")
    box.clear()
    box.send_keys("In which organelle does oxidative phosphorylation take place?")
    alice.find_element(By.ID, "edit-option-2").clear()
    alice.find_element(By.ID, "edit-option-2").send_keys("Golgi")
    alice.find_element(By.ID, "save").click()
    acknowledged(alice, "Saved as version 1")
    assert "version 1 (edited)" in alice.find_element(By.CSS_SELECTOR, ".meta").text
    assert wait_for(alice, "#question-text").text.startswith("In which organelle")
    assert "edit" in alice.find_element(By.ID, "history").text


def test_keyboard_shortcuts(server, alice):
    assert current_qid(alice) == "PMC200:c3200:q1"
    press(alice, "a")  # accept the edited version
    acknowledged(alice, "Accepted question 4")
    assert current_qid(alice) == "PMC300:c0:q0"
    press(alice, "r")
    press(alice, "6")  # duplicate
    press(alice, Keys.ENTER)
    acknowledged(alice, "Rejected question 5")
    press(alice, "e")
    wait_for(alice, "#edit-form")
    press(alice, Keys.ESCAPE)
    wait_for(alice, "#accept")
    press(alice, "s")
    acknowledged(alice, "Skipped question 6")
    # the skipped ones come back once nothing else is left
    assert current_qid(alice) == "PMC200:c3200:q0"


def test_reload_shows_decisions(server, alice):
    alice.get(server.url + "/q/3")
    alice.refresh()
    assert "accept" in wait_for(alice, "#my-decision").text
    alice.get(server.url + "/list?reviewer=alice")
    table = wait_for(alice, "#questions").text
    assert "alice: accept" in table and "alice: reject (more than one correct option)" in table
    assert "alice: reject (duplicate)" in table
    alice.get(server.url + "/list?reason=duplicate")
    assert len(alice.find_elements(By.CSS_SELECTOR, "#questions tr")) == 2  # header + one
    alice.get(server.url + "/list?q=chaperone")
    assert "Which chaperone family" in wait_for(alice, "#questions").text
    assert len(alice.find_elements(By.CSS_SELECTOR, "#questions tr")) == 2
    alice.get(server.url + "/list?min_score=0.9")
    assert len(alice.find_elements(By.CSS_SELECTOR, "#questions tr")) == 2  # only PMC200:c3200:q1 (0.96)


def test_second_reviewer_and_agreement(server, profiles, alice):
    bob = _browser(profiles[1])
    try:
        bob.get(server.url + "/login?next=/q/0")  # this server's default reviewer is alice
        name = wait_for(bob, "#reviewer")
        name.clear()
        name.send_keys("bob'); DROP TABLE decisions; --")
        bob.find_element(By.ID, "start").click()
        assert current_qid(bob) == "PMC100:c0:q0"
        # alice's verdict stays hidden until bob has given his: the two reviews are independent
        assert "1 decision(s) by other reviewers hidden" in bob.find_element(By.ID, "hidden-decisions").text
        assert "alice" not in bob.find_element(By.ID, "history").text
        bob.find_element(By.ID, "accept").click()
        acknowledged(bob, "Accepted question 1")
        bob.get(server.url + "/q/1")
        bob.find_element(By.ID, "accept").click()
        acknowledged(bob, "Accepted question 2")
        bob.get(server.url + "/stats")
        agreement = wait_for(bob, "#agreement").text
        assert "alice / bob'); DROP TABLE decisions; --" in agreement
        assert "0.50" in agreement  # agree on 1 of 2
        # alice's page, reloaded, sees bob's decisions
        alice.get(server.url + "/q/0")
        assert "accepted" == alice.find_element(By.ID, "status").text
        assert "accepted 1" in alice.find_element(By.ID, "progress").text
    finally:
        bob.quit()


def test_screenshot(server, alice, tmp_path):
    alice.get(server.url + "/q/0")
    wait_for(alice, "#evidence")
    shot = tmp_path / "review.png"
    alice.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PROTEINLM_UPDATE_SCREENSHOT") == "1":  # how docs/review.png is made
        shutil.copyfile(shot, REPO / "docs" / "review.png")


def test_killed_server_keeps_every_acknowledged_decision(server, alice):
    alice.get(server.url + "/q/2")
    alice.find_element(By.ID, "accept").click()
    acknowledged(alice, "Accepted question 3")  # acknowledged
    server.kill()
    server.start()  # same database; the browser's session survives (its key is in the database)
    alice.get(server.url + "/q/5")
    press(alice, "r")
    press(alice, "5")  # trivial
    press(alice, Keys.ENTER)
    acknowledged(alice, "Rejected question 6")
    server.kill()
    server.start()
    alice.get(server.url + "/list?reviewer=alice")
    rows = {r.find_element(By.CSS_SELECTOR, "code").text: r.text
            for r in alice.find_elements(By.CSS_SELECTOR, "#questions tr")[1:]}
    assert "alice: accept" in rows["PMC200:c3200:q0"]
    assert "alice: reject (trivial)" in rows["PMC300:c0:q1"]
