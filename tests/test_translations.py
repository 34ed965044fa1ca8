"""The translation files: a complete template, and German and Traditional Chinese that
translate all of it and that Odoo loads."""

import re
from pathlib import Path

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

ADDON = "odoo_ha_addon"
I18N = Path(__file__).resolve().parent.parent / "i18n"
LANGUAGES = {"de": "de_DE", "zh_TW": "zh_TW"}
# printf-style (%s, %(name)s, %d) and format-style ({name}, {0}) placeholders.
PLACEHOLDER_RE = re.compile(r"%(?:\([a-zA-Z_][a-zA-Z0-9_]*\))?[sdfr]|\{[a-zA-Z0-9_]*\}")


def placeholders(text):
    return sorted(PLACEHOLDER_RE.findall(text))


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = polib.pofile(str(I18N / f"{ADDON}.pot"))
        cls.template_ids = {entry.msgid for entry in cls.template}

    def test_the_template_holds_every_translatable_string(self):
        """Fails when a string marked for translation (Python, XML, JS) is not in the .pot:
        regenerate it with ``odoo-bin --i18n-export=i18n/odoo_ha_addon.pot --modules=
        odoo_ha_addon -d <db>``."""
        exported = {row[4] for row in TranslationModuleReader(self.env.cr, modules=[ADDON])}
        missing = sorted(exported - self.template_ids)
        self.assertFalse(missing, f"{len(missing)} strings missing from the .pot: {missing[:20]}")
        self.assertGreater(len(exported), 100)

    def test_each_language_translates_every_string_with_its_placeholders(self):
        for code in LANGUAGES:
            with self.subTest(language=code):
                catalog = {entry.msgid: entry for entry in polib.pofile(str(I18N / f"{code}.po"))}
                untranslated = sorted(
                    msgid
                    for msgid in self.template_ids
                    if msgid not in catalog
                    or not catalog[msgid].msgstr.strip()
                    or "fuzzy" in catalog[msgid].flags
                )
                self.assertFalse(
                    untranslated,
                    f"{len(untranslated)} untranslated in {code}.po: {untranslated[:20]}",
                )
                wrong = [
                    msgid
                    for msgid in self.template_ids
                    if placeholders(msgid) != placeholders(catalog[msgid].msgstr)
                ]
                self.assertFalse(wrong, f"placeholders differ in {code}.po: {wrong[:10]}")

    def test_odoo_shows_the_translations(self):
        Module = self.env["ir.module.module"]
        for code, lang in LANGUAGES.items():
            with self.subTest(language=code):
                self.env["res.lang"]._activate_lang(lang)
                Module._load_module_terms([ADDON], [lang], overwrite=True)
                catalog = {
                    entry.msgid: entry.msgstr for entry in polib.pofile(str(I18N / f"{code}.po"))
                }
                env = self.env(context={"lang": lang})
                self.assertEqual(
                    env["ir.model"]._get("ha.machine").name, catalog["Monitored Machine"]
                )
                phases = dict(env["ha.machine"]._fields["phase"]._description_selection(env))
                self.assertEqual(phases["working"], catalog["Working"])
