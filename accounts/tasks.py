import logging

from accounts.services import id_photos_retention_erase

logger = logging.getLogger(__name__)


def personal_data_retention() -> int:
    """The daily retention pass (schedule in migration 0003): erase ID photos kept past
    ID_PHOTO_RETENTION_DAYS. Account deletions run at once when asked, so nothing waits here."""
    erased = id_photos_retention_erase()
    logger.info("personal data retention: %d ID photos erased", erased)
    return erased
