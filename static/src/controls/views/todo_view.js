import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";

import { formatIsoDateTime } from "../entity_values";
import { VIEW_PROPS, entityParams, useEntityRoute } from "./route_data";

// Home Assistant's limit for a to-do item, and policy/services.py's.
export const MAX_ITEM_LENGTH = 255;

/**
 * A to-do list's items (route todo_items). People who may control the list tick items off
 * (todo.update_item) and add some (todo.add_item) through EntityControl's ``run``; the
 * list is read again after each change and whenever its count changes in Home Assistant.
 */
export class TodoView extends Component {
    static template = "odoo_ha_addon.TodoView";
    static props = VIEW_PROPS;

    setup() {
        this.items = useEntityRoute(
            "todo_items",
            (props) => entityParams(props),
            (props) => `${props.entity.state}|${props.entity.last_updated || ""}`,
        );
        this.local = useState({ draft: "", busy: false });
        this.maxLength = MAX_ITEM_LENGTH;
    }

    get allItems() {
        return this.items.state.data?.items || [];
    }

    get openItems() {
        return this.allItems.filter((item) => item.status !== "completed");
    }

    get doneItems() {
        return this.allItems.filter((item) => item.status === "completed");
    }

    get doneLabel() {
        return _t("Completed (%(count)s)", { count: this.doneItems.length });
    }

    dueOf(item) {
        return item.due ? _t("due %(date)s", { date: formatIsoDateTime(item.due) }) : "";
    }

    async toggle(item) {
        const completing = item.status !== "completed";
        item.status = completing ? "completed" : "needs_action";
        await this.change(completing ? "complete_item" : "reopen_item", item.uid);
    }

    onKeydown(ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            return this.add();
        }
    }

    async add() {
        const summary = this.local.draft.trim();
        if (!summary || summary.length > MAX_ITEM_LENGTH) {
            return;
        }
        this.local.draft = "";
        if (!(await this.change("add_item", summary))) {
            this.local.draft = summary;
        }
    }

    async change(action, value) {
        this.local.busy = true;
        try {
            return await this.props.run(action, value);
        } finally {
            this.local.busy = false;
            // What Home Assistant holds now, accepted or not.
            await this.items.reload();
        }
    }
}
