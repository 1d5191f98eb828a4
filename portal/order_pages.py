"""Staff pages for service orders: the list (filtered, paginated, with its total) and one order with its
history and its actions. Each action is confirmed first with what it will do; the data and the
actions are the staff API's (``portal.orders_api``)."""
from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from config.errors import M2CError
from portal import orders_api
from portal.auth import Principal
from portal.deps import optional_principal
from portal.errors import RequestRefused
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)
PAGE = 25
# what each action will do, said before it is done
EFFECT = {
    "approve": "approve order {id} ({kind} at {address}): it goes to the field",
    "schedule": "schedule order {id} ({kind} at {address}) for {day} and tell the field-work system",
    "dispatch": "dispatch order {id} ({kind} at {address}) to a crew",
    "complete": "record order {id} ({kind} at {address}) as done at {at}{effect}",
    "fail": "record order {id} ({kind} at {address}) as failed: it leaves the queue undone",
    "cancel": "cancel order {id} ({kind} at {address}); nothing is done in the field",
}
COMPLETES = {"connect": "; the service point becomes connected", "reconnect": "; the service point becomes connected",
             "disconnect": "; the service point becomes disconnected and the running estimate stops projecting use",
             "meter_exchange": "; the meter exchange is recorded at that moment"}


def _local(text: str | None, zone: str) -> str:
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


@router.get("/staff/orders", response_class=HTMLResponse)
def orders_page(request: Request, status: str = Query("", max_length=20), kind: str = Query("", max_length=20),
                overdue: str = Query("", max_length=8), offset: int = Query(0, ge=0, le=10**9),
                who: Principal | None = Depends(optional_principal)):
    from cis.orders import ACTIVE, KINDS, STATUSES

    who = _staff(who)
    if status not in ("", "all", *STATUSES) or kind not in ("", *KINDS):
        raise Problem(422, "bad_filter", "no such status or kind")
    statuses = list(ACTIVE) if status == "" else [] if status == "all" else [status]
    found = orders_api.list_orders(request, status=statuses, kind=kind or None, account_no=None,
                                   overdue=bool(overdue), limit=PAGE, offset=offset, who=who)

    def page_url(at: int) -> str:
        return "/staff/orders?" + urlencode({"status": status, "kind": kind, "overdue": overdue, "offset": max(0, at)})

    return _page(request, "staff_orders.html", who, title="Service orders", orders=found["orders"],
                 total=found["total"], offset=offset, limit=PAGE, statuses=STATUSES, kinds=KINDS, chosen=status,
                 kind=kind, overdue=bool(overdue), page_url=page_url)


def _order_page(request: Request, who: Principal, order_id: int, status: int = 200, error: M2CError | None = None,
                message: str | None = None, confirm: dict | None = None) -> HTMLResponse:
    from cis.orders import ACTIONS

    order = orders_api.show_order(request, order_id, who)
    zone = request.app.state.settings.utility_zone
    history = [{**h, "at": _local(h["at"], zone)} for h in order["history"]]
    actions = [a for a, (before, _) in ACTIONS.items() if order["status"] in before
               and who.at_least(orders_api.ROLE[a])]
    return _page(request, "staff_order.html", who, status, title=f"Order {order_id}", order=order, history=history,
                 actions=actions, message=message, confirm=confirm, currency=request.app.state.settings.currency,
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


@router.get("/staff/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, order_id: int = Path(ge=1, le=2**62),
               who: Principal | None = Depends(optional_principal)):
    return _order_page(request, _staff(who), order_id)


@router.post("/staff/orders/{order_id}", response_class=HTMLResponse)
def order_form(request: Request, order_id: int = Path(ge=1, le=2**62), action: str = Form(max_length=16),
               why: str = Form(max_length=500), day: str = Form("", max_length=10), at: str = Form("", max_length=32),
               read: str = Form("", max_length=32), notes: str = Form("", max_length=2000),
               confirmed: str = Form("", max_length=8), who: Principal | None = Depends(optional_principal)):
    """First what the action will do, then (confirmed) the action itself."""
    _same_origin(request)
    who = _staff(who)
    zone = ZoneInfo(request.app.state.settings.utility_zone)
    try:
        if action not in orders_api.ROLE:
            raise RequestRefused(f"no action {action!r}")
        moment = datetime.fromisoformat(at).replace(tzinfo=zone) if at else None
        body = orders_api.OrderAction(why=why, day=date.fromisoformat(day) if day else None, at=moment,
                                      read=read.strip() or None, notes=notes.strip() or None)
        if not confirmed:
            order = orders_api.show_order(request, order_id, who)
            text = EFFECT[action].format(id=order_id, kind=order["kind"], address=order["address"],
                                         day=body.day or "(no day given)",
                                         at=moment.strftime("%Y-%m-%d %H:%M %Z") if moment else "now",
                                         effect=COMPLETES.get(order["kind"], ""))
            fields = {"action": action, "why": why, "day": day, "at": at, "read": read, "notes": notes}
            return _order_page(request, who, order_id, confirm={"text": f"This will {text}.", "action": action,
                                                                "fields": fields})
        done = orders_api.act_on_order(request, action, body, order_id, who)
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _order_page(request, who, order_id, refused.status, error=refused)
    return _order_page(request, who, order_id, message=f"Order {order_id} is {done['status']}.")
