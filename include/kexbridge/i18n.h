/* gettext glue: _() marks and translates, N_() only marks. */
#ifndef KEXBRIDGE_I18N_H
#define KEXBRIDGE_I18N_H

#include <libintl.h>

#define _(msgid)	gettext(msgid)
#define N_(msgid)	(msgid)

/*
 * Binds the message catalog: $KEXBRIDGE_LOCALEDIR when set (for running
 * from the build tree), else the installed LOCALEDIR.
 */
void kb_i18n_init(void);

#endif
