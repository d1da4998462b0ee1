"""The chat page driven in real headless Chromium, as a customer would use it.

Needs Debian's `chromium` and the `playwright` package; `make test` installs both
(scripts/install-browser.sh). The screenshot is saved under test-artifacts/.
"""

import dataclasses
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from ui.app import build_app
from assistant.config import UIConfig

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ANSWER_TIMEOUT_MS = 240_000  # the bundled model on a shared CPU


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def text_of(selector: str) -> str:
    """A JS expression for an element's text that is '' while the element is not there yet."""
    return f"(document.querySelector('{selector}') || {{innerText: ''}}).innerText"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing; run `bash scripts/install-browser.sh` (make test does).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The playwright package is missing; run `bash scripts/install-browser.sh` (make test does).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live_app(generator, searcher, app_config, tmp_path_factory):
    from assistant.assistant import Assistant
    from assistant.feedback import FeedbackStore

    folder = tmp_path_factory.mktemp("browser")
    cfg = dataclasses.replace(app_config, chat=dataclasses.replace(app_config.chat, max_new_tokens=32),
                              model=dataclasses.replace(app_config.model, adapters_dir=str(folder / "adapters")))
    store = FeedbackStore(folder / "feedback.sqlite3")
    settings = UIConfig(admin_user="staff", admin_password="correct horse")
    app = build_app(Assistant(generator, searcher, cfg), feedback=store, settings=settings)
    app.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def page(browser, live_app):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_app.local_url)
    yield page
    page.close()


def test_customer_asks_sees_cited_sources_and_rates_the_answer_down(page, live_app):
    question = "Can I return opened headphones?"
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(f"/\\[\\d\\]/.test({text_of('#sources')})", timeout=ANSWER_TIMEOUT_MS)

    chat = page.locator("#chat").inner_text()
    assert "Searched the help center for" in chat
    record = next(r for r in live_app.service.answers() if r.question == question)
    cited = record.citations[0]
    answer = page.locator("#chat [data-testid=bot]").last.inner_text()
    assert f"[{cited['number']}]" in answer
    sources = page.locator("#sources").inner_text()
    assert cited["title"] in sources and cited["section"] in sources and cited["source"] in sources
    shown = set(words(sources))
    passage = [w for w in words(cited["snippet"]) if w not in words(cited["section"])]
    assert sum(w in shown for w in passage) >= 0.9 * len(passage), "the passage text is not in the Sources panel"

    page.locator("#chat button[aria-label=Dislike]").last.click()
    page.wait_for_function(f"{text_of('#feedback-status')}.includes('saved')", timeout=30_000)
    page.locator("#better-answer textarea").fill("Opened ear tips can't be returned; write to me at a@b.io")
    page.get_by_role("button", name="Send better answer").click()
    page.wait_for_function(f"{text_of('#feedback-status')}.includes('better answer')", timeout=30_000)
    row = sqlite3.connect(live_app.service.store.path).execute(
        "SELECT rating, question, answer, better_answer, passages FROM feedback ORDER BY id DESC").fetchone()
    assert row[0] == -1 and row[1] == question and row[2] == record.answer
    assert row[3] == "Opened ear tips can't be returned; write to me at [email]"
    assert cited["source"] in row[4]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    page.reload()
    page.wait_for_function(f"{text_of('#chat')}.includes({question!r})", timeout=30_000)
    assert f"[{cited['number']}]" in page.locator("#chat [data-testid=bot]").last.inner_text()


def test_three_unrelated_questions_in_one_conversation_get_three_answers_with_their_own_sources(page, live_app):
    questions = ["Can I return opened headphones in the UK?",
                 "My Arc headphones keep disconnecting from my laptop, what can I do?",
                 "How long does a refund take to reach my card?"]
    records = []
    for question in questions:
        page.locator("#question textarea").fill(question)
        page.locator("#question textarea").press("Enter")
        for _ in range(ANSWER_TIMEOUT_MS // 500):
            found = [r for r in live_app.service.answers() if r.question == question]
            if found:
                break
            page.wait_for_timeout(500)
        assert found, f"no answer to {question!r}"
        records.append(found[-1])
        page.wait_for_function(f"{text_of('#chat')}.includes({found[-1].answer[:40]!r})", timeout=60_000)
    answers = [r.answer for r in records]
    sources = [frozenset(c["source"] for c in r.citations) for r in records]
    assert len(set(answers)) == 3, answers
    assert all(sources) and len(set(sources)) == 3, sources
    shown = page.locator("#chat").inner_text()
    assert all(answer[:40] in shown for answer in answers)


def test_talk_to_a_person_shows_the_handoff(page, live_app):
    page.get_by_role("button", name="Talk to a person").click()
    page.wait_for_function(f"{text_of('#chat')}.includes('ticket #')", timeout=30_000)
    assert "will take over this conversation" in page.locator("#chat").inner_text()
    assert live_app.service.store.count("handoffs") >= 1


def log_in(page, password="correct horse"):
    page.get_by_role("tab", name="Admin").click()
    page.locator("#admin-user :is(input, textarea)").fill("staff")
    page.locator("#admin-password :is(input, textarea)").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_admin_needs_the_configured_login(page):
    log_in(page, "wrong")
    page.wait_for_selector("text=Wrong user or password.")
    assert not page.get_by_text("Add to knowledge base").is_visible()
    page.locator("#admin-password :is(input, textarea)").fill("correct horse")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("text=Add to knowledge base", timeout=60_000)
    page.wait_for_function("document.body.innerText.includes('account/create-an-account.md')", timeout=60_000)


def test_staff_compare_two_answers_and_save_a_written_one(page, live_app):
    log_in(page)
    page.wait_for_selector("text=Add to knowledge base", timeout=60_000)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-question textarea").fill("How long does a refund take?")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function(f"{text_of('#compare-b')}.includes('B:')", timeout=ANSWER_TIMEOUT_MS)
    assert "A: (base model)" in page.locator("#compare-a").inner_text()
    page.locator("#compare-better textarea").fill("Refunds reach you 5-10 business days after we get the return [1].")
    page.get_by_role("button", name="Save written answer").click()
    page.wait_for_function(f"{text_of('#compare-status')}.includes('Saved comparison')", timeout=30_000)
    row = live_app.service.store.comparisons()[-1]
    assert row["choice"] == "written" and row["question"] == "How long does a refund take?"
    assert row["better_answer"].startswith("Refunds reach you") and row["passages"]
    assert row["answer_a"] and row["answer_b"]
