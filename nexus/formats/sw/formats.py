# Kiswahili: Django ships no "sw" formats, so numbers would lose their grouping
# ("KES 10800") and dates would use the US defaults. Kenyan usage: commas between thousands,
# day before month, 24-hour clock ("10 Okt 2026, 14:00"). Month names come from the catalogue.
from django.conf.locale.en_GB import formats as _british
from django.utils.translation import gettext_noop

DATE_FORMAT = _british.DATE_FORMAT
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
YEAR_MONTH_FORMAT = _british.YEAR_MONTH_FORMAT
MONTH_DAY_FORMAT = _british.MONTH_DAY_FORMAT
SHORT_DATE_FORMAT = _british.SHORT_DATE_FORMAT
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = _british.FIRST_DAY_OF_WEEK
DATE_INPUT_FORMATS = _british.DATE_INPUT_FORMATS
DATETIME_INPUT_FORMATS = _british.DATETIME_INPUT_FORMATS
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

# Django's own Kiswahili catalogue writes Wednesday's short name in lower case ("jtano"):
# marked here, the project catalogue (read before Django's) gives it its capital.
CORRECTED_NAMES = (gettext_noop("Wed"),)
