package org.tipline.app.platform

import android.content.Context
import org.tipline.viewmodel.Preferences

/** The reporter's choices (language, region) in the app's private preferences. */
class SharedPreferencesStore(context: Context) : Preferences {
    private val preferences = context.getSharedPreferences("tipline-settings", Context.MODE_PRIVATE)

    override fun get(key: String): String? = preferences.getString(key, null)

    override fun set(key: String, value: String?) {
        preferences.edit().apply { if (value == null) remove(key) else putString(key, value) }.apply()
    }
}
