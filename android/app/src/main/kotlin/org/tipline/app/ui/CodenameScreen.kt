package org.tipline.app.ui

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.style.TextDirection
import androidx.compose.ui.unit.dp
import org.tipline.app.R
import org.tipline.viewmodel.CodenameViewModel

/**
 * The codename, shown once right after filing: the words numbered, the core's advice on keeping
 * them, what happened to each attachment's metadata, a copy button, and "I have kept them",
 * after which the app forgets them. Back does not skip it.
 */
@Composable
fun CodenameScreen(codename: CodenameViewModel, actions: PlatformActions, onKept: () -> Unit) {
    val state by codename.state.collectAsState()
    val shown = state
    if (shown == null) {
        // Already kept (or quick exit): nothing to show.
        LaunchedEffect(Unit) { onKept() }
        return
    }
    BackHandler { }
    val label = stringResource(R.string.codename_title)
    Column(
        Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Text(label, style = MaterialTheme.typography.headlineSmall)
        Text(shown.advice)
        Card(Modifier.fillMaxWidth()) {
            Column(Modifier.padding(16.dp)) {
                shown.words.forEachIndexed { index, word ->
                    // The words are Latin script: keep them left to right in an Arabic layout too.
                    Text(
                        "${index + 1}. $word",
                        style = MaterialTheme.typography.titleLarge.copy(fontFamily = FontFamily.Monospace, textDirection = TextDirection.Ltr),
                    )
                }
            }
        }
        shown.attachments.forEach { note -> Text("${note.name}: ${note.text}") }
        OutlinedButton(onClick = { actions.copySecret(label, shown.codename) }, modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.codename_copy))
        }
        Button(onClick = { codename.kept(); onKept() }, modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.codename_kept))
        }
    }
}
