/* gettext set-up (see kexbridge/i18n.h). */
#include "config.h"

#include <locale.h>
#include <stdlib.h>

#include "kexbridge/i18n.h"

void
kb_i18n_init(void)
{
	const char *dir;

	setlocale(LC_ALL, "");
	/* Lets tests and developers use catalogs from the build tree. */
	if ((dir = getenv("KEXBRIDGE_LOCALEDIR")) == NULL || *dir == '\0')
		dir = LOCALEDIR;
	bindtextdomain(PACKAGE, dir);
	textdomain(PACKAGE);
}
