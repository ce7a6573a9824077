import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Properties of an {@link AlarmTopic}. */
export interface AlarmTopicProps {
  /** Receives every alarm and recovery notification (the subscription must be confirmed from the first e-mail). */
  readonly email: string;
  /** Shown in the SNS and KMS consoles. */
  readonly description: string;
  /**
   * Waiting period before the topic's deleted key is destroyed.
   *
   * @default Duration.days(30)
   */
  readonly keyPendingWindow?: Duration;
}

/**
 * An SNS topic for alarm notifications: encrypted with a key of its own, TLS-only, e-mail subscribed.
 *
 * CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, so the topic has a customer managed
 * key whose policy lets CloudWatch use it
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-kms).
 * Alarm notifications carry no pipeline data, which is why this is not the stage's data key: a topic key that
 * CloudWatch may use leaves the data key's policy untouched.
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `${props.description}: encrypts alarm notifications`,
      enableKeyRotation: true,
      pendingWindow: props.keyPendingWindow ?? Duration.days(30),
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: props.description,
      masterKey: this.key,
      enforceSSL: true,
    });
    // Only alarms of this account may publish (a service principal alone would admit any account's alarms).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }

  /** Sends the alarm's ALARM and OK transitions to the topic. */
  public notify(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    const action = new actions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}
