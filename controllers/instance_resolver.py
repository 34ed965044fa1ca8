"""Which ha.instance a request works on.

An explicit ``ha_instance_id`` must name an instance the user may read, active and
configured; one that does not exist and one the user may not read get the same answer.
Without one: (1) the session's instance if still valid, (2) the user's preference, (3) the
first accessible instance by (sequence, id). A session instance that is
no longer valid is forgotten and the user's browser tabs are told which instance replaced it.
All lookups run with the user's environment: record rules decide what is accessible.
"""

from odoo import _
from odoo.exceptions import AccessError
from odoo.http import request

from .params import ApiError

SESSION_KEY = "current_ha_instance_id"
INSTANCE_FALLBACK = "odoo_ha_addon/instance_fallback"
INSTANCE_SWITCHED = "odoo_ha_addon/instance_switched"


def check_instance(env, instance_id):
    """The instance ``instance_id`` if the user may use it; ``ApiError`` otherwise."""
    instance = env["ha.instance"].with_context(active_test=False).browse(instance_id)
    # One answer for "no such instance" and "not yours": an id tells nothing of what exists.
    not_found = ApiError(
        _(
            "Home Assistant instance %(id)s does not exist or is not available to you.",
            id=instance_id,
        ),
        "instance_not_found",
    )
    if not instance.sudo().exists():
        raise not_found
    try:
        instance.check_access("read")
    except AccessError:
        raise not_found from None
    if not instance.active:
        raise ApiError(
            _("The instance %(name)s is archived.", name=instance.name), "instance_inactive"
        )
    # sudo: the URL is for Home Assistant users; people a share grants only need to know
    # that there is one.
    if not instance.sudo().url or not instance.has_token:
        raise ApiError(
            _("The instance %(name)s has no URL or access token yet.", name=instance.name),
            "instance_not_configured",
        )
    return instance.with_context(active_test=True)


def _usable(env, instance_id):
    if not instance_id:
        return None
    try:
        return check_instance(env, instance_id)
    except ApiError:
        return None


def resolve_instance(env, instance_id=None):
    """The instance a request works on (see the module docstring)."""
    if instance_id:
        return check_instance(env, instance_id)
    session_id = request.session.get(SESSION_KEY)
    instance = _usable(env, session_id)
    if instance is not None:
        return instance
    instance = _usable(env, env.user.current_ha_instance_id.id)
    if instance is None:
        instance = _first_usable(env)
    if instance is None:
        if session_id:
            request.session.pop(SESSION_KEY, None)
            _notify_fallback(env, session_id, None)
        raise ApiError(
            _("No Home Assistant instance is available to you. Ask an administrator to add one."),
            "instance_not_found",
        )
    request.session[SESSION_KEY] = instance.id
    if session_id and session_id != instance.id:
        _notify_fallback(env, session_id, instance.id)
    return instance


def _first_usable(env):
    for instance in env["ha.instance"].search([], order="sequence, id"):
        if instance.sudo().url and instance.has_token:
            return instance
    return None


def switch_instance(env, instance_id):
    """Make ``instance_id`` the user's current instance (session and preference); the user's
    other tabs are told."""
    instance = check_instance(env, instance_id)
    request.session[SESSION_KEY] = instance.id
    if env.user.current_ha_instance_id != instance:
        env.user.write({"current_ha_instance_id": instance.id})
    env["ha.realtime.update"]._notify_user(
        env.user, INSTANCE_SWITCHED, {"instance_id": instance.id, "name": instance.name}
    )
    return instance


def _notify_fallback(env, previous_id, instance_id):
    env["ha.realtime.update"]._notify_user(
        env.user,
        INSTANCE_FALLBACK,
        {"previous_instance_id": previous_id, "instance_id": instance_id},
    )
