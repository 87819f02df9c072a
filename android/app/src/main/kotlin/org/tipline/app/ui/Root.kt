package org.tipline.app.ui

import android.content.Context
import android.content.ContextWrapper
import android.content.res.Configuration
import android.content.res.Resources
import androidx.annotation.StringRes
import androidx.compose.foundation.layout.padding
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ExitToApp
import androidx.compose.material.icons.automirrored.filled.Send
import androidx.compose.material.icons.filled.Edit
import androidx.compose.material.icons.filled.Email
import androidx.compose.material.icons.filled.Notifications
import androidx.compose.material.icons.filled.Phone
import androidx.compose.material.icons.filled.Settings
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.CompositionLocalProvider
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.vector.ImageVector
import androidx.compose.ui.platform.LocalConfiguration
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.platform.LocalLayoutDirection
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.LayoutDirection
import androidx.navigation.NavGraph.Companion.findStartDestination
import androidx.navigation.NavHostController
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.currentBackStackEntryAsState
import androidx.navigation.compose.rememberNavController
import java.util.Locale
import org.tipline.app.R
import org.tipline.ffi.Direction
import org.tipline.viewmodel.AppModel

/** What the screens ask of the activity. */
interface PlatformActions {
    /** Leaves the app at once. */
    fun quickExit()

    /** Opens the dialler with a `tel:` URI. */
    fun dial(uri: String)

    /** Puts a secret on the clipboard, marked sensitive. */
    fun copySecret(label: String, text: String)

    /** Asks the system to allow the update notification, where it must be asked (Android 13+). */
    fun allowNotifications()
}

/** The app's destinations. */
object Routes {
    const val REPORT = "report"
    const val CODENAME = "codename"
    const val OUTBOX = "outbox"
    const val CASES = "cases"
    const val CASE = "case/{caseId}"
    const val ALERTS = "alerts"
    const val HOTLINES = "hotlines"
    const val SETTINGS = "settings"

    fun case(caseId: String) = "case/$caseId"
}

private class Tab(val route: String, @StringRes val label: Int, val icon: ImageVector)

private val TABS = listOf(
    Tab(Routes.REPORT, R.string.tab_report, Icons.Filled.Edit),
    Tab(Routes.OUTBOX, R.string.tab_outbox, Icons.AutoMirrored.Filled.Send),
    Tab(Routes.CASES, R.string.tab_cases, Icons.Filled.Email),
    Tab(Routes.ALERTS, R.string.tab_alerts, Icons.Filled.Notifications),
    Tab(Routes.HOTLINES, R.string.tab_hotlines, Icons.Filled.Phone),
)

/**
 * The app: the language chosen in Settings (its strings and, from the core, its direction:
 * Arabic lays out right to left), a top bar with quick exit on every screen, the tabs, and the
 * screens.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun TiplineRoot(model: AppModel, actions: PlatformActions) {
    val settings by model.settings.state.collectAsState()
    val nav = rememberNavController()
    Localized(settings.language.code(), settings.direction) {
        val entry by nav.currentBackStackEntryAsState()
        val route = entry?.destination?.route
        Scaffold(
            topBar = {
                TopAppBar(
                    title = { Text(stringResource(R.string.app_name)) },
                    actions = {
                        IconButton(onClick = { nav.navigate(Routes.SETTINGS) { launchSingleTop = true } }) {
                            Icon(Icons.Filled.Settings, contentDescription = stringResource(R.string.settings_title))
                        }
                        Button(
                            onClick = actions::quickExit,
                            colors = ButtonDefaults.buttonColors(containerColor = MaterialTheme.colorScheme.error),
                        ) {
                            Icon(Icons.AutoMirrored.Filled.ExitToApp, contentDescription = null)
                            Text(stringResource(R.string.quick_exit))
                        }
                    },
                )
            },
            bottomBar = {
                NavigationBar {
                    TABS.forEach { tab ->
                        NavigationBarItem(
                            selected = route == tab.route,
                            onClick = { nav.openTab(tab.route) },
                            icon = { Icon(tab.icon, contentDescription = null) },
                            label = { Text(stringResource(tab.label)) },
                        )
                    }
                }
            },
        ) { padding ->
            NavHost(nav, startDestination = Routes.REPORT, modifier = Modifier.padding(padding)) {
                composable(Routes.REPORT) { ReportScreen(model, onFiled = { nav.navigate(Routes.CODENAME) }) }
                composable(Routes.CODENAME) {
                    CodenameScreen(model.codename, actions, onKept = {
                        nav.navigate(Routes.OUTBOX) { popUpTo(Routes.REPORT) }
                    })
                }
                composable(Routes.OUTBOX) { OutboxScreen(model) }
                composable(Routes.CASES) { CasesScreen(model.cases, onOpen = { nav.navigate(Routes.case(it)) }) }
                composable(Routes.CASE) { backStackEntry ->
                    val caseId = backStackEntry.arguments?.getString("caseId").orEmpty()
                    ConversationScreen(model.cases, caseId, onBack = { nav.popBackStack() })
                }
                composable(Routes.ALERTS) { AlertsScreen(model) }
                composable(Routes.HOTLINES) { HotlinesScreen(model.hotlines, actions) }
                composable(Routes.SETTINGS) { SettingsScreen(model, actions) }
            }
        }
    }
}

private fun NavHostController.openTab(route: String) {
    navigate(route) {
        popUpTo(graph.findStartDestination().id) { saveState = true }
        launchSingleTop = true
        restoreState = true
    }
}

/**
 * Draws `content` in the chosen language, whatever the phone's: string resources from that
 * locale's `values-xx`, and the layout direction the core gives the language.
 */
@Composable
fun Localized(code: String, direction: Direction, content: @Composable () -> Unit) {
    val context = LocalContext.current
    val configuration = LocalConfiguration.current
    val localized = remember(code, configuration, context) {
        val locale = Locale.forLanguageTag(code)
        val changed = Configuration(configuration)
        changed.setLocale(locale)
        changed.setLayoutDirection(locale)
        LocalizedContext(context, context.createConfigurationContext(changed).resources)
    }
    val layoutDirection = if (direction == Direction.RIGHT_TO_LEFT) LayoutDirection.Rtl else LayoutDirection.Ltr
    CompositionLocalProvider(
        LocalContext provides localized,
        LocalConfiguration provides localized.resources.configuration,
        LocalLayoutDirection provides layoutDirection,
        content = content,
    )
}

/** The activity with another language's resources: still the activity for everything else
 * (result launchers, the back dispatcher and `startActivity` find it through the wrapper). */
private class LocalizedContext(base: Context, private val localized: Resources) : ContextWrapper(base) {
    override fun getResources(): Resources = localized
}
