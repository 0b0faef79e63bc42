"""The admin endpoints: read and change the fault injection plan while the server runs.

    GET    /graphtasks/admin/faults     the plan in force, with its version
    PUT    /graphtasks/admin/faults     replace it (the JSON document of traffic/faults.py)
    DELETE /graphtasks/admin/faults     no faults any more

Outside Graph's URL space, and guarded by the admin key (auth/admin.py, AdminAccess), never by a Graph
token: a tenant's app must not be able to make the server fail for other tenants. Errors are Graph-shaped.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp

from graphtasks.auth.admin import AdminAccess
from graphtasks.errors import BadRequest
from graphtasks.traffic.faults import FaultPlan, parse_plan
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.bodies import PLAN_LIMIT, read_json
from graphtasks.web.gate import FaultPlans
from graphtasks.web.responses import GraphResponse

FAULTS_PATH = "/graphtasks/admin/faults"


def admin_routes(plans: FaultPlans, access: AdminAccess, *, calls: BlockingCalls) -> list[Route]:
    def answer(version: int, plan: FaultPlan) -> ASGIApp:
        return GraphResponse.json({"version": version, **plan.to_json()})

    async def show(request: Request) -> ASGIApp:
        access.check(request.scope, request.headers.get("authorization"))
        await calls.run(plans.load)
        return answer(plans.version, plans.injector.plan)

    async def replace(request: Request) -> ASGIApp:
        access.check(request.scope, request.headers.get("authorization"))
        document = await read_json(request, limit=PLAN_LIMIT)
        try:
            plan = parse_plan(document, operations=plans.operations)
        except ValueError as error:
            raise BadRequest(f"Invalid fault plan: {error}") from None
        version = await calls.run(plans.replace, plan)
        return answer(version, plan)

    async def clear(request: Request) -> ASGIApp:
        access.check(request.scope, request.headers.get("authorization"))
        await calls.run(plans.replace, FaultPlan())
        return GraphResponse.empty()

    return [
        Route(FAULTS_PATH, show, methods=["GET"]),
        Route(FAULTS_PATH, replace, methods=["PUT"]),
        Route(FAULTS_PATH, clear, methods=["DELETE"]),
    ]
