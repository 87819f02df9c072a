# Textos del núcleo de Tipline: español.

## Bandeja de salida
outbox-queued = Pendiente de envío
outbox-sending = Enviando… { $percent } %
outbox-delivered = Entregado { $date }
outbox-retrying = Aún no enviado: { $reason }. Se volverá a intentar a las { $time }.
outbox-failed = No enviado: { $reason }.
outbox-receipt-unverified = El servidor recibió el informe, pero su recibo no se puede comprobar. El informe se guarda aquí y no se vuelve a enviar.
reason-offline = sin conexión
reason-server = el servidor no respondió
reason-rejected = el servidor rechazó el aviso
reason-busy = el servidor está ocupado
reason-local = este teléfono no pudo guardarlo o leerlo por ahora
reason-receipt = no se pudo comprobar el recibo del servidor

## Teléfonos de ayuda
hotline-open-until = Abierto ahora, hasta las { $time }
hotline-opens-at = Cerrado, abre { $day } a las { $time }
hotline-hours-unknown = Horario no publicado
hotline-zone-unknown = Actualice la aplicación para ver el horario
day-today = hoy
day-tomorrow = mañana
day-monday = el lunes
day-tuesday = el martes
day-wednesday = el miércoles
day-thursday = el jueves
day-friday = el viernes
day-saturday = el sábado
day-sunday = el domingo

## Redactar un aviso
field-required = Rellena este campo
field-too-long = Demasiado largo: como máximo { $max } caracteres
field-invalid = Este valor no es válido
category-unknown = Elige una de las categorías
attachment-too-large = El archivo es demasiado grande: como máximo { $max } MB
attachments-too-many = Como máximo { $max } archivos
time-range-reversed = El inicio es posterior al final

## Precisión de la ubicación
precision-street = Calle (unos 100 m)
precision-neighbourhood = Barrio (aproximadamente 1 km)
precision-town = Localidad (unos 10 km)
precision-region = Región (unos 50 km)

## Alertas
severity-info = Información
severity-warning = Aviso
severity-danger = Peligro

## Nombre clave
codename-keep = Apunta estas palabras y guárdalas en un lugar seguro. Con ellas podrás leer las respuestas a tu aviso desde cualquier teléfono. Quien las tenga podrá leer tu caso.
codename-invalid = Estas palabras no forman un nombre clave válido

## Archivos adjuntos
metadata-removed = Se han eliminado la ubicación y los datos de la cámara
metadata-kept = Este tipo de archivo no se puede limpiar: aún puede contener datos de ubicación o del dispositivo

## Directorio
directory-refused = No se ha podido verificar la lista de unidades policiales
