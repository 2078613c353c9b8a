{{/* Names and labels, as `helm create` makes them. */}}
{{- define "matchgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "matchgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "matchgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "matchgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "matchgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "matchgate.labels" -}}
helm.sh/chart: {{ include "matchgate.chart" . }}
{{ include "matchgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "matchgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "matchgate.certsSecret" -}}
{{- .Values.certificates.secretName | default (printf "%s-certs" (include "matchgate.fullname" .)) }}
{{- end }}

{{- define "matchgate.nodeSecret" -}}
{{- .Values.nodeSecret.secretName | default (printf "%s-node-secret" (include "matchgate.fullname" .)) }}
{{- end }}

{{/* Exactly one of database.url and database.existingSecret. */}}
{{- define "matchgate.checkDatabase" -}}
{{- if and .Values.database.url .Values.database.existingSecret }}
{{- fail "database: give url or existingSecret, not both" }}
{{- end }}
{{- if not (or .Values.database.url .Values.database.existingSecret) }}
{{- fail "database: give url (postgres://user@host/db) or existingSecret (a Secret with the whole URL)" }}
{{- end }}
{{- end }}

{{/* The line node.toml's database is replaced at in the init container, when the URL is a Secret's. */}}
{{- define "matchgate.databasePlaceholder" -}}
database = "@DATABASE_URL@"
{{- end }}

{{/*
TOML values. JSON's strings, numbers, booleans and arrays of them are TOML's too (TOML's basic
strings take JSON's escapes), so values are written with toJson; keys are node.toml's own names.
*/}}
{{- define "matchgate.tomlInline" -}}
{{- $parts := list }}
{{- range $k, $v := . }}
{{- $parts = append $parts (printf "%s = %s" $k (toJson $v)) }}
{{- end }}
{{- printf "{ %s }" (join ", " $parts) }}
{{- end }}

{{- define "matchgate.tomlKeys" -}}
{{- range $k, $v := . }}
{{ $k }} = {{ toJson $v }}
{{- end }}
{{- end }}

{{/* node.toml. Paths are where the Deployment mounts things. */}}
{{- define "matchgate.nodeToml" -}}
{{- $c := .Values.config -}}
# node.toml, rendered by the matchgate chart {{ .Chart.Version }} from the release's values
# (config:, telemetry:); deploy/node.example.toml explains every key.
oin = {{ $c.oin | toJson }}
name = {{ $c.name | toJson }}
suwi = {{ $c.suwi | default false | toJson }}
{{- if .Values.database.existingSecret }}
# replaced by the init container with the URL in Secret {{ .Values.database.existingSecret }}
{{ include "matchgate.databasePlaceholder" . }}
{{- else }}
database = {{ .Values.database.url | toJson }}
{{- end }}
secret_file = "/etc/matchgate/secret/node.secret"
listen = "0.0.0.0:7443"
peer_deadline_ms = {{ $c.peer_deadline_ms | default 2000 | toJson }}

[tls]
cert = "/etc/matchgate/certs/cert"
key = "/etc/matchgate/certs/key"
ca = "/etc/matchgate/certs/ca"

[local]
listen = "0.0.0.0:7444"
ca = "/etc/matchgate/certs/local-ca"
clients = [
{{- range ($c.local).clients }}
  {{ include "matchgate.tomlInline" . }},
{{- end }}
]
{{- with $c.limits }}

[limits]
{{- include "matchgate.tomlKeys" . }}
{{- end }}
{{- with $c.rest }}

[rest]
{{- include "matchgate.tomlKeys" . }}
{{- end }}

# the admin listener: /metrics (Prometheus text), /healthz, /readyz over plain HTTP
[admin]
listen = "0.0.0.0:9464"
{{- with .Values.telemetry }}
{{- if or .otlpEndpoint .serviceName }}

# traces over OTLP/gRPC (values: telemetry)
[telemetry]
{{- with .otlpEndpoint }}
otlp_endpoint = {{ . | toJson }}
{{- end }}
{{- with .serviceName }}
service_name = {{ . | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- range $c.peers }}

[[peers]]
{{- include "matchgate.tomlKeys" . }}
{{- end }}
{{- range $c.grants }}

[[grants]]
{{- include "matchgate.tomlKeys" . }}
{{- end }}
{{ end }}
