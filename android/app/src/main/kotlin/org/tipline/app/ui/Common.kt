package org.tipline.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.selection.selectable
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.unit.dp
import org.tipline.app.R
import org.tipline.viewmodel.AppMessage
import org.tipline.viewmodel.Notice

/** A notice's words: the core's sentence as it is, or the app's string for its message. */
@Composable
fun noticeText(notice: Notice): String = when (notice) {
    is Notice.Text -> notice.text
    is Notice.App -> stringResource(
        when (notice.message) {
            AppMessage.NO_DIRECTORY -> R.string.message_no_directory
            AppMessage.NO_REGION -> R.string.message_no_region
            AppMessage.CASE_NOT_FOUND -> R.string.message_case_not_found
            AppMessage.NOT_FOUND -> R.string.message_not_found
            AppMessage.CRYPTO -> R.string.message_crypto
            AppMessage.STORAGE -> R.string.message_storage
            AppMessage.UPDATE -> R.string.message_update
        },
    )
}

/** A notice on a tinted card, or nothing. */
@Composable
fun NoticeCard(notice: Notice?, modifier: Modifier = Modifier) {
    if (notice == null) return
    Card(
        modifier = modifier.fillMaxWidth(),
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer),
    ) {
        Text(noticeText(notice), Modifier.padding(12.dp), color = MaterialTheme.colorScheme.onErrorContainer)
    }
}

/** The core's sentence about a field, under the field; nothing when the field is fine. */
@Composable
fun FieldProblem(problem: String?) {
    if (problem != null) {
        Text(problem, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall)
    }
}

/** A section heading. */
@Composable
fun SectionTitle(text: String) {
    Text(text, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 16.dp, bottom = 4.dp))
}

/** One option of a single choice, the whole row tappable. */
@Composable
fun ChoiceRow(selected: Boolean, label: String, onClick: () -> Unit) {
    Row(
        Modifier
            .fillMaxWidth()
            .selectable(selected = selected, onClick = onClick, role = Role.RadioButton)
            .padding(vertical = 4.dp),
        verticalAlignment = Alignment.CenterVertically,
        horizontalArrangement = Arrangement.Start,
    ) {
        RadioButton(selected = selected, onClick = null)
        Spacer(Modifier.width(8.dp))
        Text(label)
    }
}
