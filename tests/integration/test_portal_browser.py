"""The portal's pages in a real headless browser (Debian's chromium through Selenium), served by a
real ``m2c portal serve`` process on the real services."""
from datetime import datetime, timezone
import os
import shutil
import subprocess
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from scenarios.harness import wait_until_serving
from tests.integration.portal_fixtures import PASSWORD, bill_the_period

pytestmark = pytest.mark.integration
PORT = 9361


@pytest.fixture
def server(portal_data, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "meter2cash.cli", "portal", "serve", "--port", str(PORT)],
                               env={**os.environ, **portal_data.settings.to_env()},
                               stderr=open(tmp_path / "portal.log", "w"))
    wait_until_serving(f"http://127.0.0.1:{PORT}/healthz")
    yield f"http://127.0.0.1:{PORT}"
    process.terminate()
    process.wait(10)


@pytest.fixture
def browser():
    chromedriver = shutil.which("chromedriver")
    if chromedriver is None:
        pytest.fail("chromedriver is not installed (scripts/services.sh install puts chromium-driver in)")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def sign_in(browser, base, user):
    browser.get(f"{base}/login")
    browser.find_element(By.ID, "username").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    arrive(browser, lambda url: "/login" not in url)


def arrive(browser, where) -> None:
    """Wait for the navigation a click started (a click does not wait for the next page)."""
    WebDriverWait(browser, 15).until(lambda driver: where(driver.current_url))


def shown(browser, element_id: str) -> str:
    """The text of an element of the page a click is loading (the page before has none with that id)."""
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.ID, element_id))
    return browser.find_element(By.ID, element_id).text


def test_customer_signs_in_sees_estimate_usage_and_a_bill(server, browser, portal_data):
    bill_the_period(portal_data)
    sign_in(browser, server, "alice")
    assert browser.current_url == f"{server}/accounts/{portal_data.alice}", browser.page_source[:2000]
    bills = browser.find_elements(By.CSS_SELECTOR, "a.bill-link")
    assert len(bills) == 1, browser.page_source[:3000]
    balance = browser.find_element(By.ID, "balance").text
    due = portal_data.conn.execute("select total_due_minor from bills b join accounts a on a.id = b.account_id "
                                   "where a.account_no = %s", (portal_data.alice,)).fetchone()[0]
    assert balance == f"{due / 100:,.2f}"
    bills[0].click()
    arrive(browser, lambda url: "/bills/" in url)
    assert portal_data.alice in browser.page_source and "Total" in browser.page_source
    browser.back()
    arrive(browser, lambda url: url.endswith(portal_data.alice))
    # pay the balance with the test gateway
    browser.find_element(By.ID, "amount").send_keys(f"{due / 100:.2f}")
    browser.find_element(By.ID, "token").send_keys("tok_approved")
    browser.find_element(By.ID, "pay").click()
    arrive(browser, lambda url: "message=" in url)
    assert browser.find_element(By.ID, "message").text == "Payment received."
    assert browser.find_element(By.ID, "balance").text == "0.00"
    browser.find_element(By.ID, "logout").click()
    arrive(browser, lambda url: url.endswith("/login"))
    browser.get(f"{server}/accounts/{portal_data.bob}")
    assert "sign in" in browser.page_source.lower()


def test_customer_sees_the_running_estimate_and_usage_chart(server, browser, portal_data):
    sign_in(browser, server, "alice")
    projected = browser.find_element(By.ID, "projected").text
    assert projected and projected != "0.00"
    conn = portal_data.conn
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-electric rect.use")
    days = conn.execute(
        "select count(*) from agreement_usage_daily d join service_agreements sa on sa.id = d.service_agreement_id "
        "join accounts a on a.id = sa.account_id where a.account_no = %s and d.channel = 1 and sa.service = "
        "'electric'", (portal_data.alice,)).fetchone()[0]
    assert len(bars) == days > 0
    first, end = conn.execute("select p.period_start, p.period_end from billing_periods p join accounts a on "
                              "a.billing_cycle_id = p.billing_cycle_id where a.account_no = %s and p.closed_at is null "
                              "order by p.period_start desc limit 1",
                              (portal_data.alice,)).fetchone()
    slots = browser.find_elements(By.CSS_SELECTOR, "#chart-electric g.day")
    assert len(slots) == (end - first).days  # every day of the period, read or not
    assert "kWh" in browser.find_element(By.CSS_SELECTOR, "#chart-electric .axis-unit").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#chart-electric circle.last-year")
    # last year's same days, where there is data: a dot each and the figure on hover
    conn.execute("update service_agreements set start_date = start_date - interval '400 days' where account_id = "
                 "(select id from accounts where account_no = %s)", (portal_data.alice,))
    conn.execute("insert into usage_daily (service_point_id, channel, local_day, quantity, read_count) "
                 "select d.service_point_id, d.channel, (d.local_day - interval '1 year')::date, 2 * d.quantity, "
                 "d.read_count from usage_daily d join service_agreements sa on sa.service_point_id = "
                 "d.service_point_id join accounts a on a.id = sa.account_id where a.account_no = %s "
                 "and sa.service = 'electric' and d.local_day >= %s", (portal_data.alice, first))
    browser.refresh()
    dots = browser.find_elements(By.CSS_SELECTOR, "#chart-electric circle.last-year")
    assert len(dots) == days
    hover = browser.find_element(By.CSS_SELECTOR, "#chart-electric g.day title").get_attribute("textContent")
    assert " kWh · last year " in hover and hover.startswith(first.strftime("%a %d %b %Y"))
    # a customer with all three services: water in gallons, gas in therms as the gas tariff bills it
    from portal.auth import create_user

    three = next(a.account_no for a in portal_data.utility.accounts if len(a.services) == 3)
    create_user(conn, "tess", PASSWORD, "customer", [three])
    browser.delete_all_cookies()
    sign_in(browser, server, "tess")
    units = {s: browser.find_element(By.CSS_SELECTOR, f"#chart-{s} .axis-unit").text for s in ("water", "gas")}
    assert units == {"water": "gallons", "gas": "therms"}
    # another customer's page is not there for her
    browser.get(f"{server}/accounts/{portal_data.bob}")
    assert "no such account" in browser.page_source


def test_staff_see_the_exception_queue_and_an_account(server, browser, portal_data):
    sign_in(browser, server, "clerk")
    assert browser.current_url == f"{server}/staff"
    rows = browser.find_elements(By.CSS_SELECTOR, "#exceptions tr")
    open_count = portal_data.conn.execute("select count(*) from vee_exceptions where status = 'open'").fetchone()[0]
    assert len(rows) - 1 == min(open_count, 100) and open_count > 0
    browser.find_element(By.ID, "q").send_keys(portal_data.alice[-3:])
    browser.find_element(By.ID, "q").submit()
    arrive(browser, lambda url: "q=" in url)
    browser.find_element(By.LINK_TEXT, portal_data.alice).click()
    arrive(browser, lambda url: "/staff/accounts/" in url)
    assert f"Account {portal_data.alice}" in browser.page_source


def test_staff_open_an_account_and_add_a_premise_in_the_browser(server, browser, portal_data):
    sign_in(browser, server, "clerk")
    browser.find_element(By.ID, "records-link").click()
    arrive(browser, lambda url: url.endswith("/staff/records"))
    # refused: e-mail delivery without an address; the page says why and keeps what was typed
    browser.find_element(By.ID, "name").send_keys("Katherine Johnson")
    browser.find_element(By.ID, "delivery").send_keys("email")
    browser.find_element(By.ID, "account-why").send_keys("moving in next week")
    browser.find_element(By.ID, "open-account").click()
    arrive(browser, lambda url: url.endswith("/staff/records/accounts"))
    assert browser.find_element(By.ID, "error").text.startswith("email_required: ")
    assert browser.find_element(By.ID, "name").get_attribute("value") == "Katherine Johnson"
    browser.find_element(By.ID, "email").send_keys("kj@example.org")
    browser.find_element(By.ID, "open-account").click()
    arrive(browser, lambda url: "/staff/accounts/M" in url)
    number = browser.current_url.rsplit("/", 1)[1]
    assert "Katherine Johnson" in browser.page_source
    assert portal_data.conn.execute("select a.delivery_channel, e.actor, e.reason from accounts a join cis_events e "
                                    "on e.subject = a.account_no where a.account_no = %s", (number,)).fetchone() == \
        ("email", "clerk", "moving in next week")
    browser.get(f"{server}/staff/records")
    browser.find_element(By.ID, "address").send_keys("31 Langley Rd")
    browser.find_element(By.ID, "zone").send_keys("Atlantis/Deep")
    browser.find_element(By.ID, "premise-why").send_keys("new build")
    browser.find_element(By.ID, "add-premise").click()
    arrive(browser, lambda url: url.endswith("/staff/records/premises"))
    assert browser.find_element(By.ID, "error").text.startswith("bad_zone: ")
    browser.find_element(By.ID, "address").send_keys("31 Langley Rd")
    browser.find_element(By.ID, "premise-why").send_keys("new build")
    browser.find_element(By.ID, "add-premise").click()
    arrive(browser, lambda url: "premise=" in url)
    premise_id = int(browser.current_url.rsplit("=", 1)[1])
    assert browser.find_element(By.ID, "message").text == f"Premise {premise_id} added."
    assert portal_data.conn.execute("select address from premises where id = %s", (premise_id,)).fetchone()[0] == \
        "31 Langley Rd"


def _set(browser, element_id: str, value: str) -> None:
    """Date and time fields take their value as the page would send it (typing them depends on the locale)."""
    browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, element_id), value)


def test_staff_install_a_meter_and_start_and_stop_service_in_the_browser(server, browser, portal_data):
    conn = portal_data.conn
    premise_id = conn.execute("insert into premises (address, zone) values ('5 Hill St', %s) returning id",
                              (portal_data.settings.utility_zone,)).fetchone()[0]
    account, tariff = portal_data.alice, next(m.tariff_code for m in portal_data.utility.meters
                                               if m.service == "electric")
    sign_in(browser, server, "clerk")
    browser.get(f"{server}/staff/records")
    browser.find_element(By.ID, "meter").send_keys("WEB-E1")
    browser.find_element(By.ID, "meter-premise").send_keys(str(premise_id))
    _set(browser, "meter-at", "2026-11-01T00:00")
    browser.find_element(By.ID, "meter-why").send_keys("new build")
    browser.find_element(By.ID, "meter-submit").click()
    arrive(browser, lambda url: url.endswith("/staff/records/meters"))
    assert browser.find_element(By.ID, "message").text.startswith("Meter WEB-E1 installed at service point ")
    installed = conn.execute("select i.installed_at from meter_installations i join meters m on m.id = i.meter_id "
                             "where m.meter_no = 'WEB-E1'").fetchone()[0]
    assert installed == datetime(2026, 11, 1, 5, tzinfo=timezone.utc)  # midnight in Chicago (CDT)

    for attempt in ("first", "again"):
        browser.get(f"{server}/staff/records")
        browser.find_element(By.ID, "service-account").send_keys(account)
        browser.find_element(By.ID, "service-premise").send_keys(str(premise_id))
        browser.find_element(By.ID, "service-tariff").send_keys(tariff)
        _set(browser, "service-on", "2026-11-03")
        browser.find_element(By.ID, "service-why").send_keys("second home")
        browser.find_element(By.ID, "service-submit").click()
        arrive(browser, lambda url: url.endswith("/staff/records/service"))
        if attempt == "first":
            assert " starts on 2026-11-03" in browser.find_element(By.ID, "message").text
        else:  # one agreement serves a service point at a time: the page says so, with the code
            assert browser.find_element(By.ID, "error").text.startswith("service_point_occupied: ")
    browser.get(f"{server}/staff/records")
    browser.find_element(By.ID, "service-action").send_keys("stop")
    browser.find_element(By.ID, "service-account").send_keys(account)
    browser.find_element(By.ID, "service-premise").send_keys(str(premise_id))
    _set(browser, "service-on", "2026-11-20")
    browser.find_element(By.ID, "final-read").send_keys("73125")
    browser.find_element(By.ID, "service-why").send_keys("sold the house")
    browser.find_element(By.ID, "service-submit").click()
    arrive(browser, lambda url: url.endswith("/staff/records/service"))
    assert "last day served 2026-11-19" in browser.find_element(By.ID, "message").text
    assert "final read of meter WEB-E1 stored" in browser.find_element(By.ID, "message").text
    assert conn.execute("select r.value, r.read_at from register_reads r join meters m on m.id = r.meter_id "
                        "where m.meter_no = 'WEB-E1'").fetchone() == (73125, datetime(2026, 11, 20, 6, tzinfo=timezone.utc))
    assert conn.execute("select start_date::text, end_date::text, status from service_agreements "
                        "where premise_id = %s", (premise_id,)).fetchone() == ("2026-11-03", "2026-11-20", "stopped")
    assert [r[0] for r in conn.execute("select kind from cis_events where actor = 'clerk' and subject in (%s, 'WEB-E1') "
                                       "order by id", (account,))] == ["meter_installed", "service_started",
                                                                        "service_stopped"]
    # final bills: a supervisor's action; the stopped service waits for its reads, and the page says why
    browser.find_element(By.ID, "final-bills").click()
    arrive(browser, lambda url: url.endswith("/staff/records/final-bills"))
    assert browser.find_element(By.ID, "error").text.startswith("role_required: ")
    sign_in(browser, server, "supervisor")
    browser.get(f"{server}/staff/records")
    browser.find_element(By.ID, "final-bills").click()
    arrive(browser, lambda url: url.endswith("/staff/records/final-bills"))
    assert browser.find_element(By.ID, "message").text.startswith("0 final bills issued, ")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#finals tr") if account in r.text)
    assert "waiting" in row.text and "no billing period of the account's cycle holds the last day served" in row.text


def test_a_supervisor_approves_and_schedules_a_disconnect_after_confirming_what_it_does(server, browser, portal_data):
    from datetime import date

    from cis.orders import create_at_point

    conn = portal_data.conn
    point, account_id = conn.execute(
        "select sa.service_point_id, sa.account_id from service_agreements sa join accounts a on a.id = sa.account_id "
        "where a.account_no = %s order by sa.id limit 1", (portal_data.alice,)).fetchone()
    order = create_at_point(conn, "disconnect", point, account_id, "collections", "non-payment: 212.40 USD past due",
                            today=date.today(), source="collections", awaiting_approval=True)
    sign_in(browser, server, "supervisor")
    browser.get(f"{server}/staff/orders")
    assert browser.find_element(By.ID, "order-total").text.startswith("1 order;")
    browser.find_element(By.ID, f"order-{order.id}").click()
    arrive(browser, lambda url: url.endswith(f"/staff/orders/{order.id}"))
    assert browser.find_element(By.ID, "order-status").text == "awaiting_approval"

    browser.find_element(By.ID, "order-action").send_keys("approve")
    browser.find_element(By.ID, "order-why").send_keys("60 days past due, two notices sent")
    browser.find_element(By.ID, "order-submit").click()
    # nothing is done before the page says what will happen and it is confirmed
    assert shown(browser, "confirm-text").startswith(f"This will approve order {order.id} (disconnect")
    assert conn.execute("select status from service_orders where id = %s", (order.id,)).fetchone()[0] == \
        "awaiting_approval"
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Order {order.id} is open."

    browser.find_element(By.ID, "order-action").send_keys("schedule")
    _set(browser, "order-day", "2026-12-14")
    browser.find_element(By.ID, "order-why").send_keys("north route, Monday")
    browser.find_element(By.ID, "order-submit").click()
    assert "for 2026-12-14 and tell the field-work system" in shown(browser, "confirm-text")
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Order {order.id} is scheduled."
    assert browser.find_element(By.ID, "order-status").text == "scheduled"
    history = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
    assert len(history) == 3 and "supervisor" in history[1] and "north route, Monday" in history[2]
    assert conn.execute("select action, reference from field_work_requests where order_id = %s",
                        (order.id,)).fetchall() == [("schedule", f"FW-{order.id}")]
    # a clerk may schedule but not approve: the approve action is not offered to one
    assert conn.execute("select count(*) from notices where kind = 'disconnect_scheduled' and account_id = %s",
                        (account_id,)).fetchone()[0] == 1
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        browser.save_screenshot(f"/tmp/m2c-order-{width}.png")


def test_a_customer_reports_a_leak_with_a_photo_and_sees_the_request(server, browser, portal_data, tmp_path):
    photo = tmp_path / "pit.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 256)
    sign_in(browser, server, "alice")
    browser.find_element(By.ID, "report-kind").send_keys("a leak")
    browser.find_element(By.ID, "report-description").send_keys("water pooling around the meter box")
    browser.find_element(By.ID, "report-photo").send_keys(str(photo))
    browser.find_element(By.ID, "report-submit").click()
    arrive(browser, lambda url: "reported=" in url)
    case_id, order_id, photo_bytes = portal_data.conn.execute(
        "select c.id, l.ref_id, (select length(data) from case_attachments where case_id = c.id) from cases c "
        "join case_links l on l.case_id = c.id and l.kind = 'order' join accounts a on a.id = c.account_id "
        "where a.account_no = %s and c.kind = 'leak_report'", (portal_data.alice,)).fetchone()
    assert shown(browser, "message") == f"Report received: case {case_id}; a crew will look into it."
    assert photo_bytes == 264
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#requests tr")]
    assert any(row.startswith(f"{case_id} leak report: water pooling around the meter box open") for row in rows), rows
    assert any(row.startswith(f"{order_id} investigate") for row in rows), rows
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        browser.save_screenshot(f"/tmp/m2c-report-{width}.png")


def test_a_customer_goes_paperless_turns_off_reminders_and_is_told(server, browser, portal_data):
    conn = portal_data.conn
    sign_in(browser, server, "alice")
    browser.find_element(By.ID, "pref-delivery").send_keys("e-mail")
    browser.find_element(By.ID, "pref-email").clear()
    browser.find_element(By.ID, "pref-save").click()
    # e-mail bills need an address: said on the page, nothing changed
    assert shown(browser, "pref-problem") == "Bills by e-mail need an e-mail address."
    assert conn.execute("select delivery_channel from accounts where account_no = %s",
                        (portal_data.alice,)).fetchone()[0] != "email"
    browser.find_element(By.ID, "pref-delivery").send_keys("e-mail")
    browser.find_element(By.ID, "pref-email").clear()
    browser.find_element(By.ID, "pref-email").send_keys("alice@example.test")
    browser.find_element(By.ID, "pref-paperless").click()
    browser.find_element(By.ID, "pref-notice-reminder").click()
    browser.find_element(By.ID, "pref-save").click()
    assert shown(browser, "message") == "Preferences saved: a confirmation is on its way."
    assert conn.execute("select a.delivery_channel, a.paperless, a.email, c.preferences->'notices_off' from accounts a "
                        "join customers c on c.id = a.customer_id where a.account_no = %s",
                        (portal_data.alice,)).fetchone() == ("email", True, "alice@example.test", ["reminder"])
    confirmation = conn.execute("select n.body from notices n join accounts a on a.id = n.account_id "
                                "where a.account_no = %s and n.kind = 'preferences_changed'",
                                (portal_data.alice,)).fetchall()
    assert len(confirmation) == 1 and "bill delivery: portal to email" in confirmation[0][0] \
        and "notices turned off: none to payment reminders" in confirmation[0][0]
    assert not browser.find_element(By.ID, "pref-notice-reminder").is_selected()
    assert browser.find_element(By.ID, "pref-paperless").is_selected()


def test_a_customer_asks_for_a_payment_arrangement_and_it_is_granted(server, browser, portal_data):
    from datetime import date, timedelta

    bill_the_period(portal_data)
    sign_in(browser, server, "alice")
    browser.find_element(By.ID, "arr-installments").send_keys("3")
    browser.find_element(By.ID, "arr-token").send_keys("tok_approved")
    browser.find_element(By.ID, "arr-ask").click()
    due = (date.today() + timedelta(days=30)).isoformat()
    assert shown(browser, "message") == f"Arrangement granted: 3 installments, the first due {due}."
    total, parts = portal_data.conn.execute(
        "select p.total_minor, count(i.*) from payment_arrangements p join arrangement_installments i "
        "on i.arrangement_id = p.id join accounts a on a.id = p.account_id where a.account_no = %s "
        "and p.status = 'active' group by p.total_minor", (portal_data.alice,)).fetchone()
    assert parts == 3 and total > 0


def test_a_customer_asks_to_move_and_staff_confirm_it(server, browser, portal_data):
    from datetime import date, timedelta

    conn = portal_data.conn
    sign_in(browser, server, "alice")
    on = (date.today() + timedelta(days=14)).isoformat()
    browser.find_element(By.ID, "move-action").send_keys("move my service")
    _set(browser, "move-on", on)
    browser.find_element(By.ID, "move-address").send_keys("12 New Road")
    browser.find_element(By.ID, "move-submit").click()
    arrive(browser, lambda url: "message=" in url)
    case_id = conn.execute("select c.id from cases c join accounts a on a.id = c.account_id where a.account_no = %s "
                           "and c.kind = 'move_request'", (portal_data.alice,)).fetchone()[0]
    assert shown(browser, "message") == f"Request received (case {case_id}): our staff will confirm it."
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#requests tr")]
    assert any(row.startswith(f"{case_id} move request: move ") and "12 New Road" in row for row in rows), rows
    request = conn.execute("select request from cases where id = %s", (case_id,)).fetchone()[0]
    assert (request["action"], request["to_address"], request["on"]) == ("move", "12 New Road", on)


def test_a_customer_asks_to_start_service_at_another_address_and_staff_confirm_it(server, browser, portal_data):
    from datetime import date, timedelta

    conn = portal_data.conn
    sign_in(browser, server, "alice")
    on = (date.today() + timedelta(days=7)).isoformat()
    browser.find_element(By.ID, "move-action").send_keys("start service")
    browser.find_element(By.ID, "move-service").send_keys("electric")
    _set(browser, "move-on", on)
    browser.find_element(By.ID, "move-address").send_keys("3 Hill Road")
    browser.find_element(By.ID, "move-submit").click()
    arrive(browser, lambda url: "message=" in url)
    case_id, request = conn.execute("select c.id, c.request from cases c join accounts a on a.id = c.account_id "
                                    "where a.account_no = %s and c.kind = 'move_request'",
                                    (portal_data.alice,)).fetchone()
    assert shown(browser, "message") == f"Request received (case {case_id}): our staff will confirm it."
    assert (request["action"], request["to_address"], request["on"]) == ("start", "3 Hill Road", on)
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#requests tr")]
    assert any(row.startswith(f"{case_id} move request: start electric at 3 Hill Road") for row in rows), rows
    # a clerk carries it out from the case page, after reading what it will do
    browser.delete_all_cookies()
    sign_in(browser, server, "clerk")
    browser.get(f"{server}/staff/cases/{case_id}")
    assert "start electric" in browser.find_element(By.ID, "case-request").text
    browser.find_element(By.ID, "case-confirm-why").send_keys("the customer confirmed by phone")
    browser.find_element(By.ID, "case-confirm").click()
    said = shown(browser, "confirm-text")
    assert said.startswith(f"This will carry out the request of case {case_id}") and "3 Hill Road" in said
    assert conn.execute("select count(*) from premises where address = '3 Hill Road'").fetchone()[0] == 0
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message").startswith(f"Case {case_id}: the request is carried out (agreement id ")
    assert browser.find_element(By.ID, "case-status").text == "closed"
    started = conn.execute("select sa.start_date::text, sa.end_date from service_agreements sa join premises p on "
                           "p.id = sa.premise_id where p.address = '3 Hill Road'").fetchall()
    assert started == [(on, None)]


def test_a_customer_turns_autopay_on_sees_a_bill_paid_on_its_due_date_and_turns_it_off(server, browser, portal_data):
    from datetime import date

    from billing.autopay import run_autopay
    from billing.entities import load_entities
    from portal.gateway import TestGateway

    conn = portal_data.conn
    sign_in(browser, server, "alice")
    assert shown(browser, "autopay-status").startswith("Off")
    browser.find_element(By.ID, "autopay-token").send_keys("tok_approved")
    browser.find_element(By.ID, "autopay-on").click()
    assert shown(browser, "message").startswith("Autopay is on: each bill is paid on its due date.")
    assert browser.find_element(By.ID, "autopay-status").text.startswith("On since")
    assert conn.execute("select e.active, e.token from autopay_enrollments e join accounts a on a.id = e.account_id "
                        "where a.account_no = %s", (portal_data.alice,)).fetchone() == (True, "tok_approved")
    bill_the_period(portal_data)
    conn.execute("update bills set due_date = %s where account_id = (select id from accounts where account_no = %s)",
                 (date.today(), portal_data.alice))
    paid = run_autopay(conn, TestGateway(), load_entities(), date.today(), datetime.now(timezone.utc))
    assert paid.approved == 1
    browser.refresh()
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#autopay tr")]
    assert len(rows) == 2 and rows[1].endswith("approved"), rows
    browser.find_element(By.ID, "autopay-off").click()
    assert shown(browser, "message") == "Autopay is off."
    assert browser.find_element(By.ID, "autopay-status").text.startswith("Off")
    told = conn.execute("select n.subject from notices n join accounts a on a.id = n.account_id where a.account_no = %s "
                        "and n.kind = 'autopay_changed' order by n.id", (portal_data.alice,)).fetchall()
    assert told == [("Autopay is on",), ("Autopay is off",)]


def test_staff_log_a_contact_open_a_case_and_work_it_to_closed_from_the_pages(server, browser, portal_data):
    conn = portal_data.conn
    sign_in(browser, server, "clerk")
    browser.get(f"{server}/staff/accounts/{portal_data.alice}")
    browser.find_element(By.ID, "contact-channel").send_keys("phone")
    browser.find_element(By.ID, "contact-reason").send_keys("high bill")
    browser.find_element(By.ID, "contact-notes").send_keys("asks why September was high")
    browser.find_element(By.ID, "contact-log").click()
    assert shown(browser, "message") == "Contact logged."
    assert "asks why September was high" in browser.find_element(By.ID, "account-contacts").text
    browser.find_element(By.ID, "new-case-kind").send_keys("high bill")
    browser.find_element(By.ID, "new-case-summary").send_keys("September bill twice August's")
    browser.find_element(By.ID, "new-case-open").click()
    arrive(browser, lambda url: "Case+" in url or "Case%20" in url)
    case_id = conn.execute("select c.id from cases c join accounts a on a.id = c.account_id where a.account_no = %s "
                           "and c.kind = 'high_bill'", (portal_data.alice,)).fetchone()[0]
    assert shown(browser, "message") == f"Case {case_id} opened."
    # the queue: filtered by kind, with its total
    browser.get(f"{server}/staff/cases?kind=high_bill")
    assert shown(browser, "case-total").startswith("1 case")
    browser.find_element(By.ID, f"case-{case_id}").click()
    arrive(browser, lambda url: f"/staff/cases/{case_id}" in url)
    browser.find_element(By.ID, "case-new-owner").clear()
    browser.find_element(By.ID, "case-new-owner").send_keys("clerk.kim")
    browser.find_element(By.ID, "case-why").send_keys("taking it")
    browser.find_element(By.ID, "case-update").click()
    assert "owner clerk.kim" in shown(browser, "confirm-text")
    assert conn.execute("select owner from cases where id = %s", (case_id,)).fetchone()[0] is None  # not yet
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Case {case_id} changed."
    assert browser.find_element(By.ID, "case-owner").text == "clerk.kim"
    browser.find_element(By.ID, "case-resolution-text").send_keys("meter read checked; the use was real (pool pump)")
    browser.find_element(By.ID, "case-close").click()
    assert "the customer is told" in shown(browser, "confirm-text")
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Case {case_id} is closed; the customer is told."
    told = conn.execute("select n.subject from notices n join accounts a on a.id = n.account_id "
                        "where a.account_no = %s and n.kind = 'case_closed'", (portal_data.alice,)).fetchall()
    assert told == [(f"Your high bill case {case_id} is resolved",)]
    history = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
    assert len(history) >= 3 and any("taking it" in row for row in history)


def test_a_customer_asks_to_stop_service_and_sees_the_request(server, browser, portal_data):
    from datetime import date, timedelta

    sign_in(browser, server, "alice")
    on = (date.today() + timedelta(days=10)).isoformat()
    browser.find_element(By.ID, "move-action").send_keys("stop my service")
    _set(browser, "move-on", on)
    browser.find_element(By.ID, "move-submit").click()
    arrive(browser, lambda url: "message=" in url)
    case_id, request = portal_data.conn.execute(
        "select c.id, c.request from cases c join accounts a on a.id = c.account_id where a.account_no = %s "
        "and c.kind = 'move_request'", (portal_data.alice,)).fetchone()
    assert shown(browser, "message") == f"Request received (case {case_id}): our staff will confirm it."
    assert (request["action"], request["on"], request["to_address"]) == ("stop", on, None)
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#requests tr")]
    assert any(row.startswith(f"{case_id} move request: stop electric at ") for row in rows), rows


def test_staff_find_an_account_by_address_adjust_it_after_confirming_and_read_its_timeline(server, browser,
                                                                                          portal_data):
    conn = portal_data.conn
    address = conn.execute("select p.address from premises p join service_agreements sa on sa.premise_id = p.id "
                           "join accounts a on a.id = sa.account_id where a.account_no = %s limit 1",
                           (portal_data.alice,)).fetchone()[0]
    sign_in(browser, server, "clerk")
    browser.find_element(By.ID, "q").send_keys(address)
    browser.find_element(By.ID, "q").submit()
    arrive(browser, lambda url: "q=" in url)
    assert shown(browser, "search-total").startswith("1 account")
    assert address in browser.find_element(By.ID, "search-results").text
    browser.find_element(By.LINK_TEXT, portal_data.alice).click()
    arrive(browser, lambda url: "/staff/accounts/" in url)
    before = browser.find_element(By.ID, "balance").text
    browser.find_element(By.ID, "adjust-amount").send_keys("-7.25")
    browser.find_element(By.ID, "adjust-why").send_keys("goodwill: a missed appointment")
    browser.find_element(By.ID, "adjust-submit").click()
    said = shown(browser, "confirm-text")
    assert said.startswith(f"This will credit the customer 7.25 USD on account {portal_data.alice}")
    assert f"the balance goes from {before}" in said
    assert conn.execute("select count(*) from ledger_entries where entry_type = 'adjustment'").fetchone()[0] == 0
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message").startswith("Adjusted by -7.25 USD: the balance is ")
    assert conn.execute("select sum(amount_minor) from ledger_entries where entry_type = 'adjustment' "
                        "and ledger_account = 'receivable'").fetchone()[0] == -725
    browser.find_element(By.ID, "timeline-kind").send_keys("ledger")
    browser.find_element(By.ID, "timeline-filter").click()
    arrive(browser, lambda url: "kind=ledger" in url)
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#timeline-events tbody tr")]
    assert shown(browser, "timeline-total").startswith("1 event")
    assert "adjustment: goodwill: a missed appointment" in rows[0] and "-7.25 USD" in rows[0] and "clerk" in rows[0]


def test_staff_work_the_exception_queue_with_its_evidence_and_a_bulk_action(server, browser, portal_data):
    conn = portal_data.conn
    sign_in(browser, server, "supervisor")
    browser.get(f"{server}/staff/exceptions")
    total = conn.execute("select count(*) from vee_exceptions where status = 'open'").fetchone()[0]
    assert shown(browser, "exception-total").startswith(f"{total} exception")
    first = conn.execute("select id, flagged_count, rules[1] from vee_exceptions where status = 'open' "
                         "order by id limit 1").fetchone()
    browser.find_element(By.ID, f"exception-{first[0]}").click()
    arrive(browser, lambda url: f"/staff/exceptions/{first[0]}" in url)
    bars = browser.find_elements(By.CSS_SELECTOR, "#evidence-chart rect")
    flagged = browser.find_elements(By.CSS_SELECTOR, "#evidence-chart rect.flagged")
    slots = conn.execute("select cardinality(values), (select count(*) from unnest(flags) f where f <> 0) "
                         "from vee_exceptions where id = %s", (first[0],)).fetchone()
    assert len(bars) <= slots[0] and len(flagged) >= 1 and len(flagged) <= slots[1]
    browser.find_element(By.ID, "exception-action").send_keys("release")
    browser.find_element(By.ID, "exception-why").send_keys("the customer confirmed the use")
    browser.find_element(By.ID, "exception-submit").click()
    assert shown(browser, "confirm-text") == (f"This will release exception {first[0]} to billing: its {first[1]} "
                                              "flagged reads are billed as stored.")
    assert conn.execute("select status from vee_exceptions where id = %s", (first[0],)).fetchone()[0] == "open"
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Exception {first[0]}: release done."
    assert browser.find_element(By.ID, "exception-status").text == "released"
    # a bulk action on a filtered set: the count first, then the action
    rule = conn.execute("select rules[1], count(*) from vee_exceptions where status = 'open' group by 1 "
                        "order by 2 desc limit 1").fetchone()
    browser.get(f"{server}/staff/exceptions?rule={rule[0]}")
    browser.find_element(By.ID, "bulk-why").send_keys("reviewed as a batch")
    browser.find_element(By.ID, "bulk-submit").click()
    assert shown(browser, "confirm-text").startswith(f"This will accept {rule[1]:,} exceptions")
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"{rule[1]:,} exceptions accepted."
    assert conn.execute("select count(*) from vee_exceptions where status = 'open' and %s = any(rules)",
                        (rule[0],)).fetchone()[0] == 0


def test_staff_import_a_lockbox_file_and_match_and_reverse_payments_after_confirming(server, browser, portal_data,
                                                                                      tmp_path):
    conn = portal_data.conn
    upload = tmp_path / "lockbox.csv"
    upload.write_text("reference,received_on,account_no,invoice_no,amount,method\n"
                      f"BRW-1,2026-10-05,{portal_data.alice},,30.00,check\n"
                      "BRW-2,2026-10-05,NOSUCH,,8.00,check\n"
                      "BRW-3,not a day,,,1.00,check\n")
    sign_in(browser, server, "supervisor")
    browser.get(f"{server}/staff/payments")
    browser.find_element(By.ID, "lockbox-file").send_keys(str(upload))
    browser.find_element(By.ID, "lockbox-submit").click()
    assert shown(browser, "lockbox-counts").startswith("2 lines: 1 applied (30.00 USD), 1 to the queue, 0 taken "
                                                       "before, 1 refused")
    assert "4" in browser.find_element(By.ID, "lockbox-errors").text
    waiting = conn.execute("select count(*) from payments where status = 'unmatched'").fetchone()[0]
    assert browser.find_element(By.ID, "queue-total").text.startswith(f"{waiting} payment")
    queued = conn.execute("select id from payments where reference = 'BRW-2'").fetchone()[0]
    browser.find_element(By.ID, f"match-target-{queued}").send_keys(portal_data.bob)
    browser.find_element(By.ID, f"match-why-{queued}").send_keys("the customer called: a typo")
    browser.find_element(By.ID, f"match-{queued}").click()
    assert shown(browser, "confirm-text") == f"This will apply payment BRW-2 of 8.00 USD to account {portal_data.bob}, " \
                                             "lowering what it owes."
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Payment {queued} applied to account {portal_data.bob}."
    applied = conn.execute("select id from payments where reference = 'BRW-1'").fetchone()[0]
    browser.find_element(By.ID, "return-payment").send_keys(str(applied))
    browser.find_element(By.ID, "return-why").send_keys("NSF")
    browser.find_element(By.ID, "return-submit").click()
    assert shown(browser, "confirm-text").startswith(f"This will reverse payment BRW-1 of 30.00 USD on account "
                                                     f"{portal_data.alice}")
    assert conn.execute("select status from payments where id = %s", (applied,)).fetchone()[0] == "applied"
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message") == f"Payment {applied} returned; fee 25.00 USD."
    assert conn.execute("select status from payments where id = %s", (applied,)).fetchone()[0] == "returned"


def test_staff_close_a_cycle_watch_it_release_a_held_account_and_rebill_a_correction(server, browser, portal_data):
    import time

    conn = portal_data.conn
    sign_in(browser, server, "supervisor")
    browser.get(f"{server}/staff/bill-runs")
    browser.find_element(By.ID, "run-start").click()
    assert shown(browser, "message").startswith(f"Bill run of cycle {portal_data.utility.cycle_code} started")
    deadline = time.monotonic() + 120
    while True:  # the run's page refreshes itself while it runs
        run_id = conn.execute("select max(id) from bill_runs").fetchone()[0]
        if run_id and conn.execute("select status from bill_runs where id = %s", (run_id,)).fetchone()[0] \
                != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    browser.get(f"{server}/staff/bill-runs/{run_id}")
    assert shown(browser, "run-status").startswith("finished: 100.0% of")
    held = conn.execute("select a.account_no from bill_run_accounts b join accounts a on a.id = b.account_id "
                        "where b.bill_run_id = %s and b.reason like 'blocking_exceptions%%' order by 1 limit 1",
                        (run_id,)).fetchone()[0]
    browser.find_element(By.ID, f"release-why-{held}").send_keys("reads checked with the customer")
    browser.find_element(By.ID, f"release-{held}").click()
    assert "release the open exceptions that block account" in shown(browser, "confirm-text")
    browser.find_element(By.ID, "confirm-submit").click()
    said = shown(browser, "message")
    assert said.startswith(f"Account {held}: ") and " issued." in said
    # a correction: a billed account's read changes after billing; one click rebills it, the change shown
    from vee.queue import override

    bill_id, exception_id, values = conn.execute(
        "select b.id, e.id, e.values from bills b join service_agreements sa on sa.account_id = b.account_id "
        "join agreement_meters am on am.service_agreement_id = sa.id "
        "join vee_exceptions e on e.meter_id = am.meter_id and e.status = 'open' "
        "where b.status = 'issued' and e.values[1] is not null order by b.id limit 1").fetchone()
    override(conn, exception_id, {0: values[0] + 500_000}, "supervisor", "the customer read the meter")
    from billing.corrections import raise_corrections
    assert raise_corrections(conn) >= 1
    browser.get(f"{server}/staff/bill-runs")
    browser.find_element(By.ID, f"rebill-{bill_id}").click()
    assert shown(browser, "confirm-text").startswith(f"This will cancel bill {bill_id}")
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message").startswith(f"Bill {bill_id} cancelled; rebill ")
    changes = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#difference-lines tbody tr")]
    assert any(not row.endswith(" 0.00") for row in changes), changes  # a line moved by the corrected read


def test_staff_edit_a_tariff_with_problems_shown_as_they_type_see_its_impact_and_publish_it(server, browser,
                                                                                           portal_data):
    from selenium.webdriver.common.keys import Keys

    sign_in(browser, server, "supervisor")
    browser.get(f"{server}/staff/tariffs")
    browser.find_element(By.ID, "tariff-E-TOU").click()
    arrive(browser, lambda url: "/staff/tariffs/E-TOU" in url)
    cells = browser.find_elements(By.CSS_SELECTOR, "table.tou-grid td")
    assert len(cells) % (12 * 24 * 2) == 0 and cells  # weekday and weekend grids of every version
    browser.get(f"{server}/staff/tariffs/E-RES")
    text = browser.find_element(By.ID, "tariff-text")
    original = text.get_attribute("value")
    broken = original.replace('amount = "12.50"', 'amount = "twelve"')
    browser.execute_script("arguments[0].value = arguments[1]", text, broken)
    text.send_keys(Keys.END, " ")  # an edit: the page checks as the text changes
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "problem-list"))
    said = browser.find_element(By.ID, "problem-list").text
    assert "amount" in said and "versions[0]" in said, said
    fixed = original.replace('amount = "12.50"', 'amount = "15.50"')
    browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, "tariff-text"), fixed)
    browser.find_element(By.ID, "tariff-text").send_keys(Keys.END, " ")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "problem-none"))
    _set(browser, "impact-start", portal_data.utility.period_start.isoformat())
    _set(browser, "impact-end", portal_data.utility.period_end.isoformat())
    browser.find_element(By.ID, "tariff-impact").click()
    electric = sum(1 for m in portal_data.utility.meters if m.tariff_code == "E-RES")
    assert shown(browser, "impact-summary").startswith(f"{electric} agreements: revenue ")
    assert f"({electric * 3}.00 USD)" in browser.find_element(By.ID, "impact-summary").text
    browser.find_element(By.ID, "publish-why").send_keys("customer charge to 15.50, rate case 14")
    browser.find_element(By.ID, "tariff-publish").click()
    assert shown(browser, "confirm-text").startswith("This will publish tariff E-RES as a new revision")
    assert "+" in browser.find_element(By.ID, "diff-text").text and "15.50" in browser.find_element(By.ID,
                                                                                                   "diff-text").text
    browser.find_element(By.ID, "confirm-submit").click()
    assert shown(browser, "message").startswith("Tariff E-RES published as revision ")
    browser.get(f"{server}/staff/tariffs/E-RES")
    assert "customer charge to 15.50, rate case 14" in browser.find_element(By.ID, "revisions").text


@pytest.mark.parametrize("width", [1280, 390])
def test_the_pages_fit_a_desktop_and_a_phone_without_scrolling_sideways(server, browser, portal_data, width):
    browser.set_window_size(width, 900)
    pages = {"alice": [f"/accounts/{portal_data.alice}"],
             "supervisor": ["/staff", "/staff/exceptions", "/staff/cases", "/staff/orders", "/staff/payments",
                            "/staff/bill-runs", "/staff/tariffs", "/staff/tariffs/E-TOU", "/staff/records",
                            f"/staff/accounts/{portal_data.alice}"]}
    for user, paths in pages.items():
        browser.delete_all_cookies()
        sign_in(browser, server, user)
        for path in paths:
            browser.get(server + path)
            wide, room = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert wide <= room, (path, width, wide, room)
