# English as used in Kenya: British day-month order and thousands grouped with commas
# ("KES 10,800", "25 Oct 2026"). Django's own "en" formats are American.
from django.conf.locale.en_GB import formats as _british

DATE_FORMAT = _british.DATE_FORMAT
TIME_FORMAT = _british.TIME_FORMAT
DATETIME_FORMAT = _british.DATETIME_FORMAT
YEAR_MONTH_FORMAT = _british.YEAR_MONTH_FORMAT
MONTH_DAY_FORMAT = _british.MONTH_DAY_FORMAT
SHORT_DATE_FORMAT = _british.SHORT_DATE_FORMAT
SHORT_DATETIME_FORMAT = _british.SHORT_DATETIME_FORMAT
FIRST_DAY_OF_WEEK = _british.FIRST_DAY_OF_WEEK
DATE_INPUT_FORMATS = _british.DATE_INPUT_FORMATS
DATETIME_INPUT_FORMATS = _british.DATETIME_INPUT_FORMATS
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
