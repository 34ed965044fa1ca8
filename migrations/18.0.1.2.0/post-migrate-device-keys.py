"""Device keys made before 18.0.1.2.0 were kept in clear in the wizard's ``key`` column until
the daily clean-up: delete those rows and the column (the keys themselves stay valid)."""


def migrate(cr, version):
    cr.execute("DELETE FROM ha_device_key_wizard")
    cr.execute("ALTER TABLE ha_device_key_wizard DROP COLUMN IF EXISTS key")
