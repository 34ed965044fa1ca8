"""Before 18.0.1.2.0 a share of a device or entity group covered whatever the device or group
held at each read. Each such share now grants the entities it covers today (its granted
entities) and does not include the ones added later: nobody gains or loses anything at the
upgrade, and what Home Assistant or an editor adds from now on needs a manager's consent."""


def migrate(cr, version):
    cr.execute(
        """
        INSERT INTO ha_entity_share_granted_rel (share_id, entity_id)
        SELECT share.id, entity.id
          FROM ha_entity_share share
          JOIN ha_entity entity ON entity.device_id = share.device_id
         UNION
        SELECT share.id, member.entity_id
          FROM ha_entity_share share
          JOIN ha_entity_group_entity_rel member ON member.group_id = share.group_id
        ON CONFLICT DO NOTHING
        """
    )
    cr.execute("UPDATE ha_entity_share SET include_later = FALSE WHERE include_later IS NULL")
