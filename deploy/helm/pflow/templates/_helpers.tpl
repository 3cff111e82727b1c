{{- define "pflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- define "pflow.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "pflow.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "pflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "pflow.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}
{{- define "pflow.secretName" -}}
{{- default (printf "%s-env" (include "pflow.fullname" .)) .Values.existingSecret -}}
{{- end -}}
{{/* The pod spec shared by every PFlow container; call with dict root component command resources */}}
{{- define "pflow.podSpec" -}}
serviceAccountName: {{ include "pflow.serviceAccountName" .root }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
securityContext: {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- if .restartPolicy }}
restartPolicy: {{ .restartPolicy }}
{{- end }}
containers:
  - name: {{ .component }}
    image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
    command: {{- toYaml .command | nindent 6 }}
    env:
      # the service name on this component's spans (docs/tracing.md), unless config sets one for all
      - name: OTEL_SERVICE_NAME
        value: {{ .root.Values.config.OTEL_SERVICE_NAME | default (printf "pflow-%s" .component) | quote }}
    envFrom:
      - configMapRef:
          name: {{ include "pflow.fullname" .root }}-env
      - secretRef:
          name: {{ include "pflow.secretName" .root }}
    securityContext: {{- toYaml .root.Values.securityContext | nindent 6 }}
    resources: {{- toYaml .resources | nindent 6 }}
    {{- if eq .component "api" }}
    ports:
      - name: http
        containerPort: {{ .root.Values.api.port }}
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 10
      failureThreshold: 3
    readinessProbe:
      httpGet: {path: /readyz, port: http}
      periodSeconds: 5
      failureThreshold: 2
    {{- end }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: data
        mountPath: /app/var
volumes:
  - name: tmp
    emptyDir: {}
  - name: data
    emptyDir: {}
{{- end -}}
