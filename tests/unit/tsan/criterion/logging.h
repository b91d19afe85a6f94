/* logging.h - cr_log_info comes with the runner (criterion.h). */
#include "criterion.h"
