package org.tipline.app.ui

import android.Manifest
import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Delete
import androidx.compose.material.icons.filled.LocationOn
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.DatePicker
import androidx.compose.material3.DatePickerDialog
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TimeInput
import androidx.compose.material3.rememberDatePickerState
import androidx.compose.material3.rememberTimePickerState
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import java.time.Instant
import java.time.LocalDate
import java.time.LocalTime
import java.time.ZoneId
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import kotlinx.coroutines.launch
import org.tipline.app.R
import org.tipline.app.platform.currentLocation
import org.tipline.app.platform.copyPicked
import org.tipline.viewmodel.AppMessage
import org.tipline.viewmodel.AppModel
import org.tipline.viewmodel.MediaKind
import org.tipline.viewmodel.Notice
import org.tipline.viewmodel.PlaceMode
import org.tipline.viewmodel.ReportViewModel
import org.tipline.viewmodel.WhenMode

/**
 * Writing a report: category, what happened, when, where (with the precision the core blurs the
 * position to), people, optional contact, and photos, videos or audio. "Send" files it sealed in
 * the outbox, even offline, and opens the codename.
 */
@Composable
fun ReportScreen(model: AppModel, onFiled: () -> Unit) {
    val report = model.report
    val state by report.state.collectAsState()
    val settings by model.settings.state.collectAsState()
    val directoryNotice by model.directoryNotice.collectAsState()
    val form = state.form
    val scope = rememberCoroutineScope()

    Column(
        Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(4.dp),
    ) {
        NoticeCard(directoryNotice)
        NoticeCard(state.notice)
        if (settings.region == null) NoticeCard(Notice.App(AppMessage.NO_REGION))
        FieldProblem(state.problems["unit"])

        SectionTitle(stringResource(R.string.report_category))
        state.categories.forEach { category ->
            ChoiceRow(form.category == category.id, category.label) { report.setCategory(category.id) }
        }
        FieldProblem(state.problems["category"])

        SectionTitle(stringResource(R.string.report_text))
        OutlinedTextField(
            value = form.text,
            onValueChange = report::setText,
            modifier = Modifier.fillMaxWidth(),
            minLines = 5,
            placeholder = { Text(stringResource(R.string.report_text_hint)) },
            isError = state.problems.containsKey("text"),
        )
        FieldProblem(state.problems["text"])

        WhenSection(report, form.whenMode, form.exactAt, form.earliest, form.latest)
        FieldProblem(state.problems["when"])

        PlaceSection(model)
        FieldProblem(state.problems["place"])

        SectionTitle(stringResource(R.string.report_people))
        form.people.forEachIndexed { index, person ->
            Row(verticalAlignment = Alignment.CenterVertically) {
                Column(Modifier.weight(1f)) {
                    OutlinedTextField(
                        value = person.description,
                        onValueChange = { report.setPerson(index, person.copy(description = it)) },
                        label = { Text(stringResource(R.string.report_person_description)) },
                        modifier = Modifier.fillMaxWidth(),
                    )
                    FieldProblem(state.problems["people[$index].description"])
                    OutlinedTextField(
                        value = person.name,
                        onValueChange = { report.setPerson(index, person.copy(name = it)) },
                        label = { Text(stringResource(R.string.report_person_name)) },
                        modifier = Modifier.fillMaxWidth(),
                    )
                    FieldProblem(state.problems["people[$index].name"])
                }
                IconButton(onClick = { report.removePerson(index) }) {
                    Icon(Icons.Filled.Delete, contentDescription = stringResource(R.string.action_remove))
                }
            }
        }
        FieldProblem(state.problems["people"])
        OutlinedButton(onClick = report::addPerson) {
            Icon(Icons.Filled.Add, contentDescription = null)
            Text(stringResource(R.string.report_add_person))
        }

        SectionTitle(stringResource(R.string.report_contact))
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text(stringResource(R.string.report_contact_wanted), Modifier.weight(1f))
            Switch(checked = form.wantsContact, onCheckedChange = report::setWantsContact)
        }
        if (form.wantsContact) {
            OutlinedTextField(form.contactName, { report.setContact(it, form.contactPhone, form.contactEmail) }, Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.report_contact_name)) })
            FieldProblem(state.problems["contact.name"])
            OutlinedTextField(form.contactPhone, { report.setContact(form.contactName, it, form.contactEmail) }, Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.report_contact_phone)) })
            FieldProblem(state.problems["contact.phone"])
            OutlinedTextField(form.contactEmail, { report.setContact(form.contactName, form.contactPhone, it) }, Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.report_contact_email)) })
            FieldProblem(state.problems["contact.email"])
        }

        AttachmentsSection(report)
        FieldProblem(state.problems["attachments"])
        form.attachments.indices.forEach { FieldProblem(state.problems["attachments[$it]"]) }

        Button(
            onClick = { scope.launch { if (report.submit() != null) onFiled() } },
            enabled = !state.submitting,
            modifier = Modifier
                .fillMaxWidth()
                .padding(top = 16.dp),
        ) {
            Text(stringResource(if (state.submitting) R.string.report_sealing else R.string.report_send))
        }
        Text(stringResource(R.string.report_offline_note))
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun WhenSection(report: ReportViewModel, mode: WhenMode, exactAt: Instant?, earliest: Instant?, latest: Instant?) {
    val zone = ZoneId.systemDefault()
    val dates = DateTimeFormatter.ofLocalizedDate(FormatStyle.MEDIUM)
    // Which picker is open: "exact-date", "exact-time", "from", "to", or none.
    var picking by remember { mutableStateOf<String?>(null) }

    SectionTitle(stringResource(R.string.report_when))
    ChoiceRow(mode == WhenMode.UNKNOWN, stringResource(R.string.report_when_unknown)) { report.setWhenUnknown() }
    ChoiceRow(mode == WhenMode.EXACT, stringResource(R.string.report_when_exact)) { report.setExact(exactAt ?: Instant.now()) }
    ChoiceRow(mode == WhenMode.BETWEEN, stringResource(R.string.report_when_between)) { report.setBetween(earliest, latest) }
    when (mode) {
        WhenMode.UNKNOWN -> Unit
        WhenMode.EXACT -> Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            val at = (exactAt ?: Instant.now()).atZone(zone)
            OutlinedButton(onClick = { picking = "exact-date" }) { Text(dates.format(at)) }
            OutlinedButton(onClick = { picking = "exact-time" }) { Text(DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT).format(at)) }
        }
        WhenMode.BETWEEN -> Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedButton(onClick = { picking = "from" }) {
                Text(earliest?.atZone(zone)?.let(dates::format) ?: stringResource(R.string.report_when_from))
            }
            OutlinedButton(onClick = { picking = "to" }) {
                Text(latest?.atZone(zone)?.let(dates::format) ?: stringResource(R.string.report_when_to))
            }
        }
    }

    val open = picking ?: return
    if (open == "exact-time") {
        val at = (exactAt ?: Instant.now()).atZone(zone)
        val time = rememberTimePickerState(initialHour = at.hour, initialMinute = at.minute)
        AlertDialog(
            onDismissRequest = { picking = null },
            confirmButton = {
                TextButton(onClick = {
                    report.setExact(at.toLocalDate().atTime(time.hour, time.minute).atZone(zone).toInstant())
                    picking = null
                }) { Text(stringResource(R.string.action_ok)) }
            },
            dismissButton = { TextButton(onClick = { picking = null }) { Text(stringResource(R.string.action_cancel)) } },
            text = { TimeInput(state = time) },
        )
        return
    }
    val date = rememberDatePickerState(selectableDates = PastDates)
    DatePickerDialog(
        onDismissRequest = { picking = null },
        confirmButton = {
            TextButton(onClick = {
                // The picker answers midnight UTC of the chosen day.
                val day = date.selectedDateMillis?.let { Instant.ofEpochMilli(it).atZone(ZoneOffset.UTC).toLocalDate() }
                if (day != null) {
                    when (open) {
                        "exact-date" -> {
                            val time = (exactAt ?: Instant.now()).atZone(zone).toLocalTime()
                            report.setExact(day.atTime(time).atZone(zone).toInstant())
                        }
                        "from" -> report.setBetween(day.atStartOfDay(zone).toInstant(), latest)
                        else -> report.setBetween(earliest, day.atTime(LocalTime.MAX).atZone(zone).toInstant())
                    }
                }
                picking = null
            }) { Text(stringResource(R.string.action_ok)) }
        },
        dismissButton = { TextButton(onClick = { picking = null }) { Text(stringResource(R.string.action_cancel)) } },
    ) {
        DatePicker(state = date)
    }
}

/** The date picker offers today and earlier only. */
@OptIn(ExperimentalMaterial3Api::class)
private object PastDates : androidx.compose.material3.SelectableDates {
    override fun isSelectableDate(utcTimeMillis: Long): Boolean =
        Instant.ofEpochMilli(utcTimeMillis).atZone(ZoneOffset.UTC).toLocalDate() <= LocalDate.now()
}

@Composable
private fun PlaceSection(model: AppModel) {
    val report = model.report
    val state by report.state.collectAsState()
    val form = state.form
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var unavailable by remember { mutableStateOf(false) }
    val locate: () -> Unit = {
        scope.launch {
            val location = currentLocation(context)
            unavailable = location == null
            if (location != null) report.setPosition(location.latitude, location.longitude)
        }
    }
    val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) locate() else unavailable = true
    }

    SectionTitle(stringResource(R.string.report_where))
    ChoiceRow(form.placeMode == PlaceMode.NONE, stringResource(R.string.report_where_none)) { report.setNoPlace() }
    ChoiceRow(form.placeMode == PlaceMode.POSITION, stringResource(R.string.report_where_position)) {
        permission.launch(Manifest.permission.ACCESS_COARSE_LOCATION)
    }
    ChoiceRow(form.placeMode == PlaceMode.DESCRIBED, stringResource(R.string.report_where_described)) { report.setPlaceText(form.placeText) }
    if (unavailable) Text(stringResource(R.string.report_where_unavailable))
    when (form.placeMode) {
        PlaceMode.NONE -> Unit
        PlaceMode.POSITION -> {
            if (form.latitude != null) {
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Icon(Icons.Filled.LocationOn, contentDescription = null)
                    Text(stringResource(R.string.report_where_position_taken))
                }
            }
            Text(stringResource(R.string.report_precision))
            state.precisions.forEach { option ->
                ChoiceRow(form.precision == option.precision, option.label) { report.setPrecision(option.precision) }
            }
        }
        PlaceMode.DESCRIBED -> OutlinedTextField(
            value = form.placeText,
            onValueChange = report::setPlaceText,
            modifier = Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.report_where_described)) },
        )
    }
}

@Composable
private fun AttachmentsSection(report: ReportViewModel) {
    val state by report.state.collectAsState()
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    val add: (Uri?) -> Unit = { uri ->
        if (uri != null) {
            scope.launch { copyPicked(context, uri)?.let { report.attach(it.name, it.mediaType, it.path, it.size) } }
        }
    }
    val media = rememberLauncherForActivityResult(ActivityResultContracts.PickVisualMedia(), add)
    val audio = rememberLauncherForActivityResult(ActivityResultContracts.GetContent(), add)

    SectionTitle(stringResource(R.string.report_attachments))
    state.form.attachments.forEachIndexed { index, file ->
        Row(verticalAlignment = Alignment.CenterVertically) {
            val kind = when (file.kind) {
                MediaKind.PHOTO -> R.string.attachment_photo
                MediaKind.VIDEO -> R.string.attachment_video
                MediaKind.AUDIO -> R.string.attachment_audio
                MediaKind.OTHER -> R.string.attachment_file
            }
            Text("${stringResource(kind)}: ${file.name} (${file.size / 1024} KB)", Modifier.weight(1f))
            IconButton(onClick = { report.removeAttachment(index) }) {
                Icon(Icons.Filled.Delete, contentDescription = stringResource(R.string.action_remove))
            }
        }
    }
    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        OutlinedButton(onClick = {
            media.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageAndVideo))
        }) { Text(stringResource(R.string.report_add_photo_video)) }
        OutlinedButton(onClick = { audio.launch("audio/*") }) { Text(stringResource(R.string.report_add_audio)) }
    }
    Text(stringResource(R.string.report_attachments_note))
}
